"""Database statements per submit and per job (issue #21): what the product asks of PostgreSQL for one job.

Counted in this process on every connection (the job's thread, the store thread, the queue-places thread), by
kind. Submits go through the API's full stack in process (POST /api/v1/jobs with an API key, Django's test
client); jobs through generation.runner.execute_job as the Celery task runs it (store thread on). Two shapes:
one job at a time (submit, run, next: an empty queue, as e2e.py's sequential part) and a queue of jobs submitted
first (each start then tells the queued jobs their new place).
Usage: python benchmarks/statements.py [--jobs 20]
"""

from __future__ import annotations

import argparse
import collections
import threading
import time
from typing import Any

from _setup import configure, machine, wrap_every_connection

counts: collections.Counter[str] = collections.Counter()
_lock = threading.Lock()


def _counter(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    with _lock:
        counts[sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"] += 1
    return execute(sql, params, many, context)


def install() -> None:
    wrap_every_connection(_counter, "statements.count")


def counted(work: Any) -> collections.Counter[str]:
    """The statements `work()` and the threads it wakes make, once every thread is quiet again."""
    from generation import events
    from generation.store_queue import store_queue

    with _lock:
        counts.clear()
    work()
    store_queue().drain(timeout=120)
    events.get_publisher().flush(timeout=30)
    time.sleep(1.5)  # the queue-places thread announces after a start
    with _lock:
        return collections.Counter(counts)


def per(total: collections.Counter[str], count: int) -> str:
    kinds = ", ".join(f"{kind} {n / count:.1f}" for kind, n in total.most_common())
    return f"{sum(total.values()) / count:.1f} ({kinds})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=20)
    args = parser.parse_args()
    database = configure("statements", redis_db=8)
    from _stack import bench_users
    from django.test import Client

    from generation import runner

    (_user, key), *_ = bench_users(1, credits=100 * args.jobs)
    install()
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    body = {"prompt": "benchmark", "production_path": "fashion", "width": 256, "height": 256, "steps": 2}

    def submit(seed: int) -> dict:
        data = body | {"seed": seed}
        response = client.post("/api/v1/jobs", data=data, content_type="application/json", **auth)
        assert response.status_code == 202, response.content
        return response.json()

    def run(job: dict) -> None:
        from generation.models import GenerationJob

        token = str(GenerationJob.objects.values_list("dispatch_token", flat=True).get(pk=job["id"]))
        outcome = runner.execute_job(job_id=job["id"], dispatch_token=token, in_background=True)
        assert outcome in (runner.RunOutcome.SUCCEEDED, runner.RunOutcome.DRAWN), outcome

    print(f"machine: {machine()}")
    print(f"database: {database}; jobs 256x256, 2 steps, 1 image; {args.jobs} per shape")
    for seed in range(3):  # warm-up: caches, connections, the tier
        run(submit(seed))
    # The token lookup in run() is the benchmark's own: one SELECT per job, taken off below.
    alone_submits: collections.Counter[str] = collections.Counter()
    alone_jobs: collections.Counter[str] = collections.Counter()
    for seed in range(args.jobs):
        submitted: list[dict] = []
        alone_submits += counted(lambda seed=seed, into=submitted: into.append(submit(100 + seed)))
        alone_jobs += counted(lambda job=submitted: run(job[0]))
    alone_jobs["SELECT"] -= args.jobs
    print(f"one at a time, statements per submit: {per(alone_submits, args.jobs)}")
    print(f"one at a time, statements per job (claim to settled): {per(alone_jobs, args.jobs)}")
    queued: list[dict] = []
    queue_submits = counted(lambda: queued.extend(submit(1000 + seed) for seed in range(args.jobs)))
    queue_jobs = counted(lambda: [run(job) for job in queued])
    queue_jobs["SELECT"] -= args.jobs
    print(f"a queue of {args.jobs}, statements per submit: {per(queue_submits, args.jobs)}")
    print(f"a queue of {args.jobs}, statements per job (with the queue-places thread): {per(queue_jobs, args.jobs)}")


if __name__ == "__main__":
    main()
