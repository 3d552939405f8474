"""REST API throughput: job submissions/s and job-detail reads/s against real daphne processes, with latency.

Starts its own stack: a PostgreSQL database of its own (zimage_bench_api, dropped afterwards unless --keep),
an empty Redis database on 127.0.0.1:6379 (or BENCH_REDIS_URL), and --servers daphne processes sharing one
listening socket (the kernel spreads connections between them, as a pre-forking server would). No worker runs:
submitted jobs are admitted (plan limits, credits reserved) and enqueued on the broker, then wait there.

The load is an asyncio httpx client on loopback with --concurrency requests in flight, authenticated with
personal API keys (one per user; --users users, so row locks on one account do not serialise everything).
Every response must be the expected one (202 for a submission, 200 for a read): any other is an error and
the benchmark exits non-zero. Not a test; the numbers depend on what else the machine is doing.

    .venv/bin/python benchmarks/api.py [--servers 2] [--concurrency 32] [--seconds 20] [--users 8] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._setup import configure, machine, percentile  # noqa: E402

REDIS_SERVER = "redis://127.0.0.1:6379"
TARGET_SUBMISSIONS_PER_SECOND = 200
JOB = {"prompt": "linen summer dress on a model, white studio", "production_path": "fashion", "width": 512}


def free_redis_database() -> int:
    """The first database of the local Redis with no key and no client: nobody else's worker or test is on it."""
    import redis

    busy = {int(client["db"]) for client in redis.Redis.from_url(f"{REDIS_SERVER}/0").client_list()}
    for db in range(1, 16):
        if db not in busy and not redis.Redis.from_url(f"{REDIS_SERVER}/{db}").dbsize():
            return db
    raise RuntimeError("No free Redis database on 127.0.0.1:6379: set BENCH_REDIS_URL.")


def make_users(count: int) -> list[tuple[int, str]]:
    """Users on a plan without rate limits or job caps (in this database only), with credits and an API key."""
    from accounts.models import Tier, User
    from accounts.services import create_api_key, grant_credits
    from accounts.tiers import DEFAULT_TIERS

    Tier.objects.update_or_create(
        name="enterprise",
        defaults={
            **{k: v for k, v in DEFAULT_TIERS["enterprise"].__dict__.items() if k != "name"},
            "max_queued_jobs": 30_000,
            "submit_rate": "1000000/min",
            "read_rate": "1000000/min",
        },
    )
    users = []
    for index in range(count):
        user = User.objects.create_user(email=f"api-bench-{index}@example.com", password=None, tier="enterprise")
        grant_credits(user=user, amount=10**7, reason="benchmark", idempotency_key=f"api-bench:{index}")
        users.append((user.pk, create_api_key(user=user, name="benchmark")[1]))
    return users


class Servers:
    """N daphne processes accepting on one shared listening socket."""

    def __init__(self, count: int, log_dir: Path, settings_module: str):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1024)
        self.listener.set_inheritable(True)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        fd = self.listener.fileno()
        env = {**os.environ, "LOG_LEVEL": "ERROR", "DJANGO_SETTINGS_MODULE": settings_module}
        self.logs = [open(log_dir / f"api-bench-daphne-{n}.log", "wb") for n in range(count)]  # noqa: SIM115
        self.processes = [
            subprocess.Popen(
                [sys.executable, "-m", "daphne", "--fd", str(fd), "zimage.asgi:application"],
                cwd=ROOT,
                env=env,
                pass_fds=(fd,),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            for log in self.logs
        ]

    def ready(self, timeout: float = 90) -> Servers:
        import httpx

        deadline = time.monotonic() + timeout
        answered = 0
        while time.monotonic() < deadline:
            if any(process.poll() is not None for process in self.processes):
                self.stop()
                raise RuntimeError(f"a daphne process exited: see {self.logs[0].name} and its siblings")
            with contextlib.suppress(httpx.HTTPError):
                answered += httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
            if answered >= 4 * len(self.processes):
                return self
            time.sleep(0.1)
        self.stop()
        raise TimeoutError("daphne did not answer /healthz")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        for log in self.logs:
            log.close()
        self.listener.close()


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    created: list[tuple[str, int]] = field(default_factory=list)  # (api key, job id) of each submission

    def report(self) -> str:
        done = len(self.latencies)
        rate = done / self.seconds if self.seconds else 0.0
        ms = [1000 * value for value in self.latencies] or [float("nan")]
        return (
            f"{self.name:<12} {done:>6} requests in {self.seconds:5.1f} s = {rate:7.1f}/s | "
            f"p50 {percentile(ms, 50):6.1f} ms  p95 {percentile(ms, 95):6.1f} ms  p99 {percentile(ms, 99):6.1f} ms  "
            f"max {max(ms):7.1f} ms | errors: {sum(self.errors.values())} {self.errors or ''}"
        )

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


async def run_phase(phase: Phase, base_url: str, concurrency: int, seconds: float, make_request) -> Phase:
    """`concurrency` loops send requests back to back until `seconds` have passed (bounded in count too)."""
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        started = time.perf_counter()
        deadline = started + seconds
        budget = itertools.count()
        max_requests = int(seconds * 5000)

        async def loop(slot: int) -> None:
            while time.perf_counter() < deadline and next(budget) < max_requests:
                method, url, key, body, expected = make_request(slot)
                sent = time.perf_counter()
                try:
                    response = await client.request(method, url, json=body, headers={"Authorization": f"Bearer {key}"})
                except httpx.HTTPError as error:
                    phase.errors[type(error).__name__] = phase.errors.get(type(error).__name__, 0) + 1
                    continue
                phase.latencies.append(time.perf_counter() - sent)
                if response.status_code != expected:
                    label = f"{response.status_code}"
                    phase.errors[label] = phase.errors.get(label, 0) + 1
                elif method == "POST":
                    phase.created.append((key, response.json()["id"]))

        await asyncio.gather(*(loop(slot) for slot in range(concurrency)))
        phase.seconds = time.perf_counter() - started
    return phase


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", type=int, default=2, help="daphne processes (default: 2, one per core here)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--seconds", type=float, default=20, help="length of each phase")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--settings", default="tests.settings", help="the servers' settings module")
    args = parser.parse_args()

    if "BENCH_REDIS_URL" in os.environ:
        os.environ["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    redis_db = free_redis_database() if "REDIS_URL" not in os.environ else 0
    vendor = configure("api", redis_db)
    from django.conf import settings
    from django.db import connection

    users = make_users(args.users)
    keys = [key for _, key in users]
    database = connection.settings_dict["NAME"]
    connection.close()  # the servers use the database from here on
    print(f"machine: {machine()}")
    print(
        f"stack: {args.servers} daphne process(es) on one socket | {vendor} {database} | {settings.REDIS_URL} | "
        f"no worker (jobs wait on the broker) | client: asyncio httpx, {args.concurrency} in flight, "
        f"{args.users} users with API keys"
    )
    print(f"load average before: {load_average()} (other processes on this machine count against the numbers)")

    servers = Servers(args.servers, Path(settings.DATA_DIR), args.settings).ready()
    try:
        # Warm-up: every process has imported, connected and resolved URLs before anything is timed.
        warm = Phase("warm-up")
        asyncio.run(
            run_phase(warm, servers.url, 8, 2, lambda slot: ("GET", "/api/v1/me", keys[slot % len(keys)], None, 200))
        )
        submissions = asyncio.run(
            run_phase(
                Phase("submit"),
                servers.url,
                args.concurrency,
                args.seconds,
                lambda slot: ("POST", "/api/v1/jobs", keys[slot % len(keys)], JOB, 202),
            )
        )
        created = submissions.created or [(keys[0], 0)]
        rng = random.Random(1)

        def read(slot: int):
            key, job_id = rng.choice(created)
            return "GET", f"/api/v1/jobs/{job_id}", key, None, 200

        reads = asyncio.run(run_phase(Phase("job detail"), servers.url, args.concurrency, args.seconds, read))
    finally:
        servers.stop()

    from generation.models import GenerationJob

    stored = GenerationJob.objects.count()
    print(submissions.report())
    print(reads.report())
    print(f"jobs stored: {stored} (one per 202: {'yes' if stored == len(submissions.created) else 'NO'})")
    verdict = "met" if submissions.rate >= TARGET_SUBMISSIONS_PER_SECOND else "NOT met"
    print(f"target >= {TARGET_SUBMISSIONS_PER_SECOND} submissions/s: {verdict} ({submissions.rate:.0f}/s)")
    print(f"load average after: {load_average()}")

    import redis

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    connection.close()
    if not args.keep and database.startswith("zimage_bench_"):  # only the database configure() made
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    failed = sum(submissions.errors.values()) + sum(reads.errors.values()) or stored != len(submissions.created)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
