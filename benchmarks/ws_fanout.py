"""WebSocket fan-out: 200 sockets for 50 users on one daphne, their jobs run by one tiny-pipeline worker.

Reports event latency (the `ts` a worker or web process stamps on an event when it publishes it, to the
moment a client receives it) p50/p95/max, and dropped events: each socket should see every event number
(`seq`) of its user's jobs from 1 to the final value of the job's Redis counter; whatever it did not
see is dropped. Bounded: jobs that are not finished after --deadline seconds are left and reported.

Creates its own database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/zimage_bench_ws),
migrates it, and uses the first empty Redis database without clients on 127.0.0.1:6379 (or BENCH_REDIS_URL),
which it flushes when done. Not a test.

    .venv/bin/python benchmarks/ws_fanout.py [--users 50] [--sockets-per-user 4] [--jobs-per-user 2] [--submit-rate 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/zimage_bench_ws")
REDIS_SERVER = "redis://127.0.0.1:6379"


def free_redis_database() -> str:
    """The first database of the local Redis that holds no key and has no client: a stray worker of someone
    else's on the same database would take this benchmark's jobs off the broker queue."""
    import redis

    busy = {client["db"] for client in redis.Redis.from_url(f"{REDIS_SERVER}/0").client_list()}
    for db in range(1, 16):  # 0 is every tool's default
        if db not in busy and not redis.Redis.from_url(f"{REDIS_SERVER}/{db}").dbsize():
            return f"{REDIS_SERVER}/{db}"
    raise RuntimeError("No free Redis database on 127.0.0.1:6379: set BENCH_REDIS_URL.")


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    recreate_database(DATABASE_URL)
    redis_url = os.environ.get("BENCH_REDIS_URL") or free_redis_database()
    os.environ.update(DATABASE_URL=DATABASE_URL, REDIS_URL=redis_url, DJANGO_SETTINGS_MODULE="tests.settings")
    import django

    django.setup()
    import redis
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


def machine() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor()
    return f"{os.cpu_count()} CPUs ({model}) | Python {platform.python_version()} | {platform.platform()}"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def make_users(count: int) -> list[tuple[int, dict[str, str]]]:
    """Users with a logged-in session each (and credits, where the accounts app keeps a balance)."""
    from django.conf import settings
    from django.test import Client
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from accounts import services as accounts_services
    from accounts.models import User

    users = []
    for index in range(count):
        # Verified, as the API asks of a submitting account.
        user = User.objects.create_user(
            email=f"ws-bench-{index}@example.com", password=None, email_verified_at=timezone.now()
        )
        if grant := getattr(accounts_services, "grant_credits", None):
            grant(user=user, amount=1000, reason="ws fan-out benchmark", idempotency_key=f"bench-ws-{user.pk}")
        client = Client()
        client.force_login(user)
        cookies = {
            settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value,
            settings.CSRF_COOKIE_NAME: get_random_string(32),
        }
        users.append((user.pk, cookies))
    return users


class Listener:
    """One socket: records (job, seq, type, publish ts, receive time) for every event it gets."""

    def __init__(self, user_id: int, cookies: dict[str, str]):
        self.user_id = user_id
        self.cookies = cookies
        self.received: list[tuple[int, int, str, float, float]] = []
        self.snapshot_seconds = 0.0

    async def open(self, ws_url: str, origin: str) -> None:
        from websockets.asyncio.client import connect

        started = time.perf_counter()
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        self.ws = await connect(
            f"{ws_url}/ws/jobs/", additional_headers={"Cookie": cookie, "Origin": origin}, open_timeout=30
        )
        snapshot = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
        assert snapshot["type"] == "snapshot", snapshot
        self.snapshot_seconds = time.perf_counter() - started

    async def listen(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for message in self.ws:
                now = time.time()
                event = json.loads(message)
                if "seq" in event:
                    self.received.append((event["job"], event["seq"], event["type"], event["ts"], now))
        except ConnectionClosed:
            pass


async def submit_jobs(url: str, users, args) -> list[tuple[int, int]]:
    """Every user's jobs over HTTP with their session; paced at --submit-rate jobs/s (0: all at once)."""
    import httpx
    from django.conf import settings

    csrf_cookie = settings.CSRF_COOKIE_NAME
    limit = asyncio.Semaphore(8)
    order = [(user_id, cookies, index) for index in range(args.jobs_per_user) for user_id, cookies in users]

    async def submit(position: int, user_id: int, cookies: dict[str, str], index: int) -> tuple[int, int]:
        if args.submit_rate:
            await asyncio.sleep(position / args.submit_rate)
        body = {
            "prompt": f"benchmark {user_id}/{index}",
            "production_path": "fashion",
            "width": args.size,
            "height": args.size,
            "steps": args.steps,
            "seed": index,
        }
        async with limit, httpx.AsyncClient(base_url=url, cookies=cookies, timeout=60) as http:
            response = await http.post("/api/v1/jobs", json=body, headers={"X-CSRFToken": cookies[csrf_cookie]})
        if response.status_code != 202:
            raise RuntimeError(f"submit refused: {response.status_code} {response.text[:300]}")
        return user_id, response.json()["id"]

    return await asyncio.gather(*(submit(position, *job) for position, job in enumerate(order)))


def unfinished(job_ids: list[int]) -> set[int]:
    from generation.models import FINAL_STATUSES, GenerationJob

    return set(
        GenerationJob.objects.filter(pk__in=job_ids).exclude(status__in=FINAL_STATUSES).values_list("pk", flat=True)
    )


async def run(args, daphne, users) -> dict:
    listeners = [Listener(user_id, cookies) for user_id, cookies in users for _ in range(args.sockets_per_user)]
    opening = asyncio.Semaphore(50)

    async def open_one(listener: Listener) -> None:
        async with opening:
            await listener.open(daphne.ws_url, daphne.url)

    started = time.perf_counter()
    await asyncio.gather(*(open_one(listener) for listener in listeners))
    connect_seconds = time.perf_counter() - started
    tasks = [asyncio.create_task(listener.listen()) for listener in listeners]

    started = time.perf_counter()
    jobs = await submit_jobs(daphne.url, users, args)
    job_ids = [job_id for _, job_id in jobs]
    while time.perf_counter() - started < args.deadline and await asyncio.to_thread(unfinished, job_ids):
        await asyncio.sleep(0.2)
    run_seconds = time.perf_counter() - started
    left = await asyncio.to_thread(unfinished, job_ids)  # their events are still coming: not counted below
    await asyncio.sleep(1.0)  # the last events are a few milliseconds behind the rows
    for listener in listeners:
        await listener.ws.close()
    await asyncio.gather(*tasks)
    return {
        "listeners": listeners,
        "jobs": jobs,
        "connect_seconds": connect_seconds,
        "run_seconds": run_seconds,
        "left": left,
    }


def report(args, outcome) -> None:
    import redis
    from django.conf import settings

    from generation.events import sequence_key

    listeners, jobs = outcome["listeners"], outcome["jobs"]
    client = redis.Redis.from_url(settings.REDIS_URL)
    job_ids = [job_id for _, job_id in jobs]
    counters = client.mget([sequence_key(job_id) for job_id in job_ids])
    final = {job_id: int(value or 0) for job_id, value in zip(job_ids, counters, strict=True)}
    jobs_of = defaultdict(list)
    for user_id, job_id in jobs:
        if job_id not in outcome["left"]:
            jobs_of[user_id].append(job_id)

    latencies_ms, by_type, expected, seen, no_queued = [], defaultdict(list), 0, 0, 0
    for listener in listeners:
        got = {(job_id, seq) for job_id, seq, *_ in listener.received}
        types = {(job_id, event_type) for job_id, _, event_type, *_ in listener.received}
        for job_id in jobs_of[listener.user_id]:
            expected += final[job_id]
            seen += sum((job_id, seq) in got for seq in range(1, final[job_id] + 1))
            no_queued += (job_id, "job.queued") not in types
        for _, _, event_type, ts, received_at in listener.received:
            latency = 1000 * (received_at - ts)
            latencies_ms.append(latency)
            by_type[event_type].append(latency)
    dropped = expected - seen
    snapshots = [1000 * listener.snapshot_seconds for listener in listeners]
    deliveries = len(latencies_ms)

    print(f"machine: {machine()}")
    print(
        f"services: PostgreSQL {DATABASE_URL.rsplit('/', 1)[-1]}, Redis {settings.REDIS_URL}, 1 daphne, "
        f"1 worker (concurrency {args.concurrency}, tiny pipeline)"
    )
    print(
        f"sockets: {len(listeners)} for {args.users} users ({args.sockets_per_user} each), all open in "
        f"{outcome['connect_seconds']:.2f} s; connect + snapshot p50 {percentile(snapshots, 50):.1f} ms, "
        f"p95 {percentile(snapshots, 95):.1f} ms"
    )
    print(
        f"jobs: {len(jobs)} ({args.jobs_per_user} per user, {args.size}x{args.size}, {args.steps} steps, 1 image, "
        f"submitted {f'at {args.submit_rate:g}/s' if args.submit_rate else 'all at once'}), "
        f"finished in {outcome['run_seconds']:.1f} s, {len(outcome['left'])} unfinished at the deadline"
    )
    print(
        f"events: {sum(final.values())} published, {deliveries} deliveries to sockets "
        f"({deliveries / max(outcome['run_seconds'], 1e-9):.0f}/s)"
    )
    print(
        f"latency publish -> client: p50 {percentile(latencies_ms, 50):.1f} ms, "
        f"p95 {percentile(latencies_ms, 95):.1f} ms, p99 {percentile(latencies_ms, 99):.1f} ms, "
        f"max {max(latencies_ms, default=float('nan')):.1f} ms (target p95 <= 100 ms: "
        f"{'met' if percentile(latencies_ms, 95) <= 100 else 'MISSED'})"
    )
    for event_type in sorted(by_type):
        values = by_type[event_type]
        print(
            f"  {event_type:<14} n={len(values):<6} p50 {percentile(values, 50):6.1f} ms  "
            f"p95 {percentile(values, 95):6.1f} ms"
        )
    print(
        f"dropped events: {dropped} of {expected} expected deliveries ({100 * dropped / max(expected, 1):.2f} %); "
        f"{no_queued} of them job.queued (published by the web process, overtaken by the worker's job.started "
        "and skipped as stale)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--sockets-per-user", type=int, default=4)
    parser.add_argument("--jobs-per-user", type=int, default=2)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--submit-rate", type=float, default=5, help="jobs submitted per second; 0: all at once")
    parser.add_argument("--concurrency", type=int, default=1, help="worker processes in the one worker")
    parser.add_argument("--deadline", type=float, default=120, help="seconds to wait for the jobs")
    args = parser.parse_args()

    setup_django()
    from tests.processes import DaphneProcess, WorkerProcess

    users = make_users(args.users)
    daphne = worker = None
    try:
        daphne = DaphneProcess().ready()
        # One torch thread: on a small machine shared with daphne, Redis and PostgreSQL, more only spin.
        worker = WorkerProcess(concurrency=args.concurrency, OMP_NUM_THREADS="1")
        worker.ready()
        outcome = asyncio.run(run(args, daphne, users))
        report(args, outcome)
    finally:
        for process in (worker, daphne):
            if process is not None:
                process.stop()
        import redis
        from django.conf import settings

        redis.Redis.from_url(settings.REDIS_URL).flushdb()  # leave the database free for the next run


if __name__ == "__main__":
    main()
