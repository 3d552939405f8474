"""The HTTP submit in process (#21): POST /api/v1/jobs through the whole middleware and DRF stack, timed and profiled.

Django's test client with an API key on the real PostgreSQL, Redis and broker of tests.settings, one submit at a
time (the queue kept short: each job is canceled after its 202, as e2e.py's sequential jobs finish before the next).
Prints the p50/p95 of a submit and, with --profile, cProfile's top functions by own and cumulative time. With
--http the same submits go to gunicorn (the production configuration, one process per core; no worker) by httpx,
as e2e.py's submit hop, and the difference to the in-process figure is the HTTP layer's.
Usage: python benchmarks/submit_profile.py [--submits 300] [--profile] [--http]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time
from typing import Any

from _setup import configure, machine, percentile


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submits", type=int, default=300)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--http", action="store_true", help="also time the submits through gunicorn")
    parser.add_argument("--dump", help="with --profile: also write the raw profile here (pstats format)")
    args = parser.parse_args()
    database = configure("submit_profile", redis_db=10)
    from _stack import bench_users
    from django.test import Client

    from core.redis_clients import shared_redis
    from generation.models import GenerationJob, JobStatus
    from generation.ops.monitoring import user_sockets_key

    (user, key), *_ = bench_users(1, credits=100 * (args.submits + 20))
    client = Client()
    auth = {"Authorization": f"Bearer {key}"}
    body = {"prompt": "benchmark", "production_path": "fashion", "width": 256, "height": 256, "steps": 2}

    def submit(seed: int) -> None:
        data = body | {"seed": seed}
        response = client.post("/api/v1/jobs", data=data, content_type="application/json", headers=auth)
        assert response.status_code == 202, response.content

    def clear() -> None:  # the benchmark's own: an empty queue before each submit, outside the timing
        GenerationJob.objects.filter(status=JobStatus.QUEUED).update(status=JobStatus.CANCELED)

    def timed(count: int, first_seed: int, profile: cProfile.Profile | None = None) -> list[float]:
        seconds: list[float] = []
        for seed in range(first_seed, first_seed + count):
            if profile:
                profile.enable()
            started = time.perf_counter()
            submit(seed)
            seconds.append(time.perf_counter() - started)
            if profile:
                profile.disable()
            clear()
        return seconds

    timed(10, 0)  # warm-up: caches, connections, the tier
    profile = cProfile.Profile() if args.profile else None
    alone = timed(args.submits, 100, profile)
    # As in e2e.py, whose listener has the job list open: the submit then announces job.queued too.
    shared_redis().set(user_sockets_key(user.pk), 1)
    watched = timed(args.submits, 100 + args.submits)
    shared_redis().delete(user_sockets_key(user.pk))
    print(f"machine: {machine()}")
    print(f"database: {database}; {args.submits} submits, one at a time")
    print(f"submit in process, nobody watching: {ms(alone)}")
    print(f"submit in process, the job list open: {ms(watched)}")
    if args.http:
        http = through_gunicorn(key, body, args.submits, clear)
        print(f"submit via gunicorn, nobody watching: {ms(http)}")
    if profile:
        if args.dump:
            profile.dump_stats(args.dump)
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats(order).print_stats(45)
            print(out.getvalue())


def ms(seconds: list[float]) -> str:
    return f"p50 {percentile(seconds, 50) * 1000:.2f} ms, p95 {percentile(seconds, 95) * 1000:.2f} ms"


def through_gunicorn(key: str, body: dict, count: int, clear: Any) -> list[float]:
    """The same submits over HTTP, timed as e2e.py times its submit hop (request sent -> 202 read)."""
    import httpx

    from tests.processes import GunicornProcess

    server = GunicornProcess(workers=os.cpu_count() or 1).ready()
    seconds: list[float] = []
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}) as client:
            for seed in range(-10, count):
                started = time.perf_counter()
                response = client.post("/api/v1/jobs", json=body | {"seed": 10_000 + seed})
                response.raise_for_status()
                response.json()
                if seed >= 0:  # the first ten warm each process
                    seconds.append(time.perf_counter() - started)
                clear()
    finally:
        server.stop()
    return seconds


if __name__ == "__main__":
    main()
