"""Burst: N submissions at once through the API; every job must complete, none lost. Reports submissions/s.

Usage: python benchmarks/burst.py [--jobs 2000] [--users 10] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from _setup import configure, machine, percentile

JOB = {"prompt": "burst", "production_path": "eats", "width": 256, "height": 256, "steps": 1}


async def burst(server, keys: list[str], count: int) -> tuple[list[int], float, list[float]]:
    import httpx

    latencies: list[float] = []
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=server.url, timeout=120, limits=limits) as client:
        semaphore = asyncio.Semaphore(50)

        async def one(index: int) -> int:
            async with semaphore:
                started = time.perf_counter()
                response = await client.post(
                    "/api/v1/jobs",
                    json=JOB | {"seed": index},
                    headers={"Authorization": f"Bearer {keys[index % len(keys)]}"},
                )
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 202, (response.status_code, response.text[:300])
                return response.json()["id"]

        started = time.perf_counter()
        job_ids = await asyncio.gather(*(one(index) for index in range(count)))
        elapsed = time.perf_counter() - started
    return job_ids, elapsed, latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--deadline", type=float, default=900)
    args = parser.parse_args()
    database = configure("burst", redis_db=1)
    from _stack import bench_users, stack

    from generation import runner
    from generation.models import FINAL_STATUSES, GenerationJob, JobStatus

    keys = [key for _, key in bench_users(args.users, credits=10 * args.jobs)]
    print(f"machine: {machine()}")
    print(
        f"stack: gunicorn (HTTP) + daphne (WS), {args.workers} workers, {database}, Redis; tiny pipeline; "
        f"{args.jobs} jobs 256x256 1 step"
    )
    with stack(workers=args.workers) as server:
        job_ids, elapsed, latencies = asyncio.run(burst(server, keys, args.jobs))
        ms = [1000 * value for value in latencies]
        print(
            f"submitted {len(job_ids)} in {elapsed:.1f} s: {len(job_ids) / elapsed:.1f} submissions/s, "
            f"latency p50 {percentile(ms, 50):.0f} ms, p95 {percentile(ms, 95):.0f} ms"
        )
        started = time.perf_counter()
        deadline = started + args.deadline
        jobs = GenerationJob.objects.filter(pk__in=job_ids)
        while jobs.exclude(status__in=FINAL_STATUSES).exists() and time.perf_counter() < deadline:
            runner.redispatch_queued_jobs()  # what beat would do
            time.sleep(1)
        done = time.perf_counter() - started
    counts = {status: jobs.filter(status=status).count() for status in JobStatus.values}
    lost = len(job_ids) - sum(counts.values())
    print(
        f"completed in {done:.0f} s after the burst: {counts}; lost: {lost}; "
        f"duplicate images: {sum(max(0, job.images.count() - job.num_images) for job in jobs)}"
    )


if __name__ == "__main__":
    main()
