"""Recovery times per broker (#24 part 1): a worker SIGKILLed mid-job, a duplicate delivery, a broker restart.

Real worker processes (tiny pipeline) and a real beat with the default sweeper schedule, on Redis (a private
redis-server, so it can be restarted) and on RabbitMQ (a vhost of its own, deleted after). The machine's shared
RabbitMQ is never restarted: other work uses it, so its restart is not measured here.

1. Kill: two workers and a beat; the worker running a job is killed whole (main process and pool); the time
   from the kill to the job running again on the other, and to it finishing.
2. Duplicate: the finished job's task is published again; the time until that delivery returns (not run twice).
3. Broker restart (Redis only): jobs queued, the broker restarted without persistence (every message lost);
   the time until they have all run (beat re-sends a job queued longer than JOB_REDISPATCH_AFTER).

Usage: python benchmarks/recovery.py [--kills 2] [--broker redis|amqp]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _setup import configure, machine


def wait(predicate, timeout: float, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(every)
    raise TimeoutError


def measure(broker_url: str, kills: int, restart: object | None) -> dict[str, list[float]]:
    from django.conf import settings

    from generation.models import FINAL_STATUSES, GenerationJob, JobStatus
    from generation.services import submit_job
    from generation.tasks import run_generation_job
    from tests.factories import UserFactory
    from tests.processes import ROOT, WorkerProcess, child_env
    from tests.waiting import running_past

    user = UserFactory(tier="enterprise")
    figures: dict[str, list[float]] = {"kill -> running again": [], "kill -> finished": [], "duplicate handled": []}
    env = {"CELERY_BROKER_URL": broker_url}
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
        job_fields = {"prompt": "recovery", "production_path": "fashion", "width": 512, "height": 512}
        for index in range(kills):
            job = submit_job(user=user, **job_fields, steps=24, seed=index)
            running = wait(
                lambda job=job: running_past(job.pk, 2),  # its live step, from Redis
                timeout=120,
            )
            pid = int(running.worker_id.rpartition(":")[2])
            victim = next(worker for worker in workers if pid in worker.pool_pids())
            killed = time.monotonic()
            victim.kill()
            wait(
                lambda job=job: GenerationJob.objects.filter(
                    pk=job.pk, status=JobStatus.RUNNING, deliveries=2
                ).exists(),
                timeout=300,
            )
            figures["kill -> running again"].append(time.monotonic() - killed)
            done = wait(lambda job=job: GenerationJob.objects.filter(pk=job.pk, status__in=FINAL_STATUSES).first(), 300)
            figures["kill -> finished"].append(time.monotonic() - killed)
            assert done.status == JobStatus.SUCCEEDED, done.last_error
            # A duplicate of the finished job's message: its delivery must find nothing to do.
            sent = time.monotonic()
            result = run_generation_job.apply_async(args=(job.pk, str(done.dispatch_token)), queue="gen.fashion")
            outcome = result.get(timeout=120)
            figures["duplicate handled"].append(time.monotonic() - sent)
            assert outcome == "skipped" and done.images.count() == 1, outcome
            # The killed worker comes back (a supervisor's restart).
            replacement = WorkerProcess(**env).ready(timeout=180)
            workers[workers.index(victim)] = replacement
        if restart is not None:
            jobs = [submit_job(user=user, **job_fields, steps=2, seed=100 + index) for index in range(10)]
            restart.stop()  # no persistence: the queued messages are gone
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
            figures["broker restart -> 10 lost jobs all run"] = [time.monotonic() - restarted]
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
    from tests.redis_server import RedisServer

    directory = Path(tempfile.mkdtemp(prefix="zimage-recovery-"))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    server, vhost = None, ""
    if args.broker == "redis":
        server = RedisServer(directory / "broker").start()
        os.environ["CELERY_BROKER_URL"] = server.url
    else:
        vhost = f"zimage_recovery_{os.getpid()}"
        subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True)
        subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True)
        os.environ["CELERY_BROKER_URL"] = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    try:
        configure(f"recovery_{args.broker}", redis_db=int(os.environ.get("RECOVERY_REDIS_DB", "7")))
        print(f"machine: {machine()}; broker {args.broker}; load {os.getloadavg()}")
        figures = measure(os.environ["CELERY_BROKER_URL"], args.kills, restart=server)
        for name, values in figures.items():
            print(f"{args.broker}: {name}: " + ", ".join(f"{value:.2f} s" for value in values))
        print(f"load after: {os.getloadavg()}")
    finally:
        if server is not None:
            server.stop()
        if vhost:
            subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False)


if __name__ == "__main__":
    main()
