"""End to end: jobs through the API (gunicorn) -> Celery worker (tiny pipeline) -> job.succeeded on daphne's WebSocket.

1. Orchestration overhead, one job at a time: (submit sent -> job.succeeded received) minus the time inside
   the diffusion pipeline, p50/p95 (goal p50 <= 30 ms, issue #21).
   With the CPU each process spent per job in that phase (the pipeline's is in celery's).
   Twice: back to back (each submit the moment the previous job.succeeded arrives, while its worker still
   settles it and acknowledges the message on the same two cores), and spaced (`--pause` seconds between
   jobs: one job on an otherwise idle stack, as a user submitting now and then sees it).
2. Throughput: N jobs submitted at once, with 1 and then 2 workers: jobs/s from the first submit to the last
   job.succeeded.
Usage: python benchmarks/e2e.py [--jobs 200] [--sequential 100] [--pause 0.25]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

from _setup import configure, machine, percentile


def cpu_seconds_by_process() -> dict[int, tuple[str, float]]:
    """Every process's command line and CPU seconds so far (user + system), from /proc; empty where there is none."""
    clock = os.sysconf("SC_CLK_TCK")
    seconds: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[int(entry.name)] = (command, (int(fields[11]) + int(fields[12])) / clock)
    return seconds


ROLES = ("celery", "gunicorn", "daphne", "postgres", "redis")


Readings = dict[int, tuple[str, float]]


def cpu_per_job(before: Readings, after: Readings, jobs: int) -> dict[str, float]:
    """CPU milliseconds per job by role (this benchmark's client is `client`), between two readings."""
    spent: dict[str, float] = {}
    for pid, (command, seconds) in after.items():
        role = next((name for name in ROLES if name in command), "client" if pid == os.getpid() else None)
        if role is not None:
            spent[role] = spent.get(role, 0.0) + 1000 * (seconds - before.get(pid, (command, 0.0))[1]) / jobs
    return spent


HOPS = (
    "HTTP submit (request -> 202)",
    "202 -> job.started published (broker, worker claim)",
    "job.started -> job.succeeded published, minus pipeline",
    "job.succeeded published -> received on the socket",
)
JOB = {"prompt": "benchmark", "production_path": "fashion", "width": 256, "height": 256, "steps": 2}


async def submit(client, key: str, seed: int) -> int:
    response = await client.post("/api/v1/jobs", json=JOB | {"seed": seed}, headers={"Authorization": f"Bearer {key}"})
    response.raise_for_status()
    return response.json()["id"]


async def sequential(server, key: str, count: int, pause: float = 0.0) -> tuple[list[float], dict[str, list[float]]]:
    import httpx
    from _stack import Listener
    from asgiref.sync import sync_to_async

    from generation.models import GenerationJob

    pipeline_seconds = sync_to_async(
        lambda job_id: sum(GenerationJob.objects.get(pk=job_id).images.values_list("generation_seconds", flat=True))
    )
    overheads: list[float] = []
    hops: dict[str, list[float]] = {name: [] for name in HOPS}
    async with httpx.AsyncClient(base_url=server.url) as client, Listener(server, [key]) as listener:
        for index in range(count + 5):
            started, sent = time.perf_counter(), time.time()
            job_id = await submit(client, key, index)
            accepted = time.time()
            await listener.wait_for({job_id}, timeout=60)
            status, finished = listener.finished[job_id]
            assert status == "job.succeeded", status
            if index >= 5:  # the first few warm caches and connections
                pipeline = await pipeline_seconds(job_id)
                overheads.append(finished - started - pipeline)
                stamps = listener.stamps[job_id]
                hops["HTTP submit (request -> 202)"].append(accepted - sent)
                hops["202 -> job.started published (broker, worker claim)"].append(stamps["started"] - accepted)
                hops["job.started -> job.succeeded published, minus pipeline"].append(
                    stamps["finished"] - stamps["started"] - pipeline
                )
                hops["job.succeeded published -> received on the socket"].append(
                    stamps["received"] - stamps["finished"]
                )
            await asyncio.sleep(pause)
    return overheads, hops


async def throughput(server, keys: list[str], count: int) -> float:
    import httpx
    from _stack import Listener

    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client, Listener(server, keys) as listener:
        started = time.perf_counter()
        semaphore = asyncio.Semaphore(16)

        async def one(index: int) -> int:
            async with semaphore:
                return await submit(client, keys[index % len(keys)], index)

        job_ids = set(await asyncio.gather(*(one(index) for index in range(count))))
        await listener.wait_for(job_ids, timeout=600)
        elapsed = max(finished for _, finished in listener.finished.values()) - started
        failed = [job for job, (status, _) in listener.finished.items() if status != "job.succeeded"]
        assert not failed, f"{len(failed)} jobs did not succeed"
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--sequential", type=int, default=100)
    parser.add_argument("--pause", type=float, default=0.25, help="seconds between spaced sequential jobs")
    args = parser.parse_args()
    database = configure("e2e", redis_db=2)
    from _stack import bench_users, stack

    users = bench_users(4, credits=10 * (args.jobs * 2 + args.sequential + 10))
    keys = [key for _, key in users]
    print(f"machine: {machine()}")
    print(
        f"stack: gunicorn (HTTP) + daphne (WS) + Celery prefork workers, {database}, Redis; tiny pipeline; "
        "jobs 256x256, 2 steps, 1 image"
    )
    with stack(workers=1) as server:
        for label, pause in (("back to back", 0.0), (f"spaced {args.pause:g} s apart", args.pause)):
            cpu_before = cpu_seconds_by_process()
            overheads, hops = asyncio.run(sequential(server, keys[0], args.sequential, pause))
            cpu = cpu_per_job(cpu_before, cpu_seconds_by_process(), args.sequential + 5)
            ms = [1000 * value for value in overheads]
            print(
                f"orchestration overhead, {len(ms)} sequential jobs {label} (API submit -> WS job.succeeded, minus "
                f"pipeline): p50 {percentile(ms, 50):.1f} ms, p95 {percentile(ms, 95):.1f} ms (goal p50 <= 30 ms, "
                "issue #21)"
            )
            for name, values in hops.items():
                hop_ms = [1000 * value for value in values]
                print(f"  {name}: p50 {percentile(hop_ms, 50):.1f} ms, p95 {percentile(hop_ms, 95):.1f} ms")
            print(
                "  CPU per sequential job (pipeline included, in celery): "
                + ", ".join(f"{role} {ms:.1f} ms" for role, ms in sorted(cpu.items(), key=lambda item: -item[1]))
            )
        one = asyncio.run(throughput(server, keys, args.jobs))
    with stack(workers=2) as server:
        two = asyncio.run(throughput(server, keys, args.jobs))
    print(
        f"throughput, {args.jobs} jobs at once: 1 worker {one:.1f} jobs/s, 2 workers {two:.1f} jobs/s "
        f"(ratio {two / one:.2f}x on {__import__('os').cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
