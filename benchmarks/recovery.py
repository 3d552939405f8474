"""Recovery times per broker (#24 part 1): a worker SIGKILLed mid-job, a duplicate delivery, a broker restart.

Real worker processes (tiny pipeline) and a real beat with the default sweeper schedule, on Redis (a private
redis-server, so it can be restarted) and on RabbitMQ (a private node of its own, tests/rabbitmq_node.py, on its
own ports and data directory, so it can be restarted without touching the machine's shared broker).

1. Kill: two workers and a beat; the worker running a job is killed whole (main process and pool); the time
   from the kill to the job running again on the other, and to it finishing.
2. Duplicate: the finished job's task is published again; the time until that delivery returns (not run twice).
3. Broker restart: 10 jobs queued, the broker restarted; the time until they have all run. Redis restarts
   without persistence (every message lost: beat re-sends a job queued longer than JOB_REDISPATCH_AFTER);
   RabbitMQ's quorum queues keep their messages on disk, and the workers reconnect to them. Timed from the
   broker answering again.

Usage: [RECOVERY_REDIS_DB=7] python benchmarks/recovery.py [--kills 2] [--broker redis|amqp]
(RECOVERY_REDIS_DB: the app Redis database it empties and uses; its PostgreSQL database is its own.)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from _setup import configure, machine

if TYPE_CHECKING:
    from tests.rabbitmq_node import RabbitMQNode
    from tests.redis_server import RedisServer


COUNTS = ("broker restart: jobs", "broker restart: deliveries")  # figures that are counts, not seconds


def wait(predicate: Callable[[], Any], timeout: float, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(every)
    raise TimeoutError


def measure(broker_url: str, kills: int, restart: RedisServer | RabbitMQNode | None) -> dict[str, list[float]]:
    from celery.result import AsyncResult
    from django.conf import settings

    from accounts.models import User
    from generation.models import FINAL_STATUSES, GenerationJob, JobStatus
    from generation.services import submit_job
    from generation.tasks import run_generation_job
    from tests.factories import UserFactory
    from tests.processes import ROOT, WorkerProcess, child_env
    from tests.waiting import running_past

    user = cast("User", UserFactory(tier="enterprise"))
    figures: dict[str, list[float]] = {"kill -> running again": [], "kill -> finished": [], "duplicate handled": []}
    env: dict[str, Any] = {"CELERY_BROKER_URL": broker_url}
    workers = [WorkerProcess(**env), WorkerProcess(**env)]
    beat = subprocess.Popen(  # beat of its own, so killing a worker never kills the sweepers
        [sys.executable, "-m", "celery", "-A", "zimage", "beat", "--schedule", str(Path(tempfile.mkdtemp()) / "beat")],
        cwd=ROOT,
        env=child_env(**env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for worker in workers:
            worker.ready(timeout=180)
        job_fields: dict[str, Any] = {"prompt": "recovery", "production_path": "fashion", "width": 512, "height": 512}
        for index in range(kills):
            job = submit_job(user=user, **job_fields, steps=24, seed=index)
            running = wait(partial(running_past, job.pk, 2), timeout=120)  # its live step, from Redis
            pid = int(running.worker_id.rpartition(":")[2])
            victim = next(worker for worker in workers if pid in worker.pool_pids())
            killed = time.monotonic()
            victim.kill()
            # A queryset's exists() and first() query again on every call.
            wait(GenerationJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, deliveries=2).exists, timeout=300)
            figures["kill -> running again"].append(time.monotonic() - killed)
            done = wait(GenerationJob.objects.filter(pk=job.pk, status__in=FINAL_STATUSES).first, timeout=300)
            figures["kill -> finished"].append(time.monotonic() - killed)
            assert done.status == JobStatus.SUCCEEDED, done.last_error
            # A duplicate of the finished job's message: its delivery must find nothing to do.
            sent = time.monotonic()
            result = run_generation_job.apply_async(args=(job.pk, str(done.dispatch_token)), queue="gen.fashion")
            # run_job ignores results (apply_async's handle reads none); the task stores a non-routine outcome
            # itself, which a fresh handle on the same id reads.
            outcome: str = AsyncResult(result.id, app=run_generation_job.app).get(timeout=120)
            figures["duplicate handled"].append(time.monotonic() - sent)
            assert outcome == "skipped" and done.images.count() == 1, outcome
            # The killed worker comes back (a supervisor's restart).
            replacement = WorkerProcess(**env).ready(timeout=180)
            workers[workers.index(victim)] = replacement
        if restart is not None:
            jobs = [submit_job(user=user, **job_fields, steps=2, seed=100 + index) for index in range(10)]
            restart.stop()  # Redis: no persistence, the queued messages are gone; RabbitMQ: kept in its queues
            restart.start()
            restarted = time.monotonic()
            wait(
                lambda: (
                    not GenerationJob.objects.filter(pk__in=[j.pk for j in jobs])
                    .exclude(status__in=FINAL_STATUSES)
                    .exists()
                ),
                timeout=settings.JOB_REDISPATCH_AFTER * 3 + 120,
                every=0.25,
            )
            figures["broker restart -> 10 queued jobs all run"] = [time.monotonic() - restarted]
            succeeded = GenerationJob.objects.filter(pk__in=[j.pk for j in jobs], status=JobStatus.SUCCEEDED)
            figures["broker restart: jobs succeeded (of 10)"] = [float(succeeded.count())]
            deliveries = GenerationJob.objects.filter(pk__in=[j.pk for j in jobs]).values_list("deliveries", flat=True)
            figures["broker restart: deliveries per job (max)"] = [float(max(deliveries))]
    finally:
        beat.terminate()
        beat.wait(timeout=30)
        for worker in workers:
            worker.stop()
    return figures


def main() -> None:
    """One broker per run: the app declares its queues (quorum ones on RabbitMQ) for the broker it starts with."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--broker", choices=("redis", "amqp"), default="redis")
    args = parser.parse_args()
    from tests.rabbitmq_node import RabbitMQNode
    from tests.redis_server import RedisServer

    directory = Path(tempfile.mkdtemp(prefix="zimage-recovery-"))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    server: RedisServer | RabbitMQNode
    server = RedisServer(directory / "broker").start() if args.broker == "redis" else RabbitMQNode().start()
    os.environ["CELERY_BROKER_URL"] = server.url
    try:
        configure(f"recovery_{args.broker}", redis_db=int(os.environ.get("RECOVERY_REDIS_DB", "7")))
        print(f"machine: {machine()}; broker {args.broker}; load {os.getloadavg()}")
        figures = measure(os.environ["CELERY_BROKER_URL"], args.kills, restart=server)
        for name, values in figures.items():
            shown = (f"{value:g}" if name.startswith(COUNTS) else f"{value:.2f} s" for value in values)
            print(f"{args.broker}: {name}: " + ", ".join(shown))
        print(f"load after: {os.getloadavg()}")
    finally:
        if isinstance(server, RabbitMQNode):
            server.remove()
        else:
            server.stop()


if __name__ == "__main__":
    main()
