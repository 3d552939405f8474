"""Pipeline benchmark: tiny per-image time at 512² and 1024², worker RSS, and orchestration overhead.

Overhead = (job finished_at - created_at) - time inside the diffusion pipeline, over N sequential
jobs through a real Celery worker process (PostgreSQL + Redis when they run here).
Usage: python benchmarks/pipeline.py [--jobs 100]
"""

from __future__ import annotations

import argparse
import statistics
import time

from _setup import configure, machine, percentile, rss_mb


def per_image_seconds(size: int, runs: int = 3) -> float:
    from generation.engine.diffusion import DiffusionRequest
    from generation.engine.diffusion.backends import TinyBackend

    backend = TinyBackend()
    request = DiffusionRequest(
        prompt="benchmark",
        negative_prompt="",
        model="Tongyi-MAI/Z-Image-Turbo",
        scheduler="FlowMatchEulerDiscrete",
        steps=9,
        guidance=0.0,
        width=size,
        height=size,
        seed=1,
    )
    backend.generate(request, lambda *_: None)  # warm-up
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        backend.generate(request, lambda *_: None)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100)
    args = parser.parse_args()
    database = configure("pipeline", redis_db=8)

    from accounts.models import User
    from accounts.services import grant_credits
    from generation import services
    from generation.models import GenerationJob, JobStatus
    from tests.processes import WorkerProcess

    print(f"machine: {machine()}")
    print(f"services: database={database}, diffusion backend=tiny (random weights, real ZImagePipeline)")
    for size in (512, 1024):
        print(f"tiny per-image time at {size}x{size}, 9 steps: {per_image_seconds(size):.3f} s")

    worker = WorkerProcess().ready()
    try:
        (pool_pid,) = worker.pool_pids()
        print(
            f"worker RSS at idle (warm): pool process {rss_mb(pool_pid):.0f} MB, "
            f"main process {rss_mb(worker.process.pid):.0f} MB"
        )
        user = User.objects.create_user(email="bench@example.com", password=None, tier="enterprise")
        grant_credits(user=user, amount=10 * args.jobs, reason="benchmark", idempotency_key="bench-pipeline")
        overheads, totals = [], []
        for index in range(args.jobs):
            job = services.submit_job(
                user=user,
                prompt=f"benchmark {index}",
                production_path="fashion",
                width=256,
                height=256,
                steps=2,
                seed=index,
            )
            while GenerationJob.objects.filter(pk=job.pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists():
                time.sleep(0.02)  # the figure comes from DB timestamps; polling only waits
            job.refresh_from_db()
            assert job.status == JobStatus.SUCCEEDED, job.last_error
            total = (job.finished_at - job.created_at).total_seconds()
            inside = sum(job.images.values_list("generation_seconds", flat=True))
            totals.append(total)
            overheads.append(total - inside)
        print(f"worker RSS after {args.jobs} jobs: pool process {rss_mb(pool_pid):.0f} MB")
    finally:
        worker.stop()
    ms = [1000 * value for value in overheads]
    print(f"jobs: {args.jobs} sequential, 256x256, 2 steps, 1 image")
    print(
        f"submit -> succeeded: p50 {1000 * percentile(totals, 50):.1f} ms, p95 {1000 * percentile(totals, 95):.1f} ms"
    )
    print(
        f"orchestration overhead (minus pipeline): p50 {percentile(ms, 50):.1f} ms, p95 {percentile(ms, 95):.1f} ms "
        f"(target p50 <= 50 ms)"
    )


if __name__ == "__main__":
    main()
