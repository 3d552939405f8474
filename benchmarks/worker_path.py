"""The worker's critical path per image beyond the pipeline call, with a queue of jobs waiting (issue #21).

A queue of jobs runs through generation.runner.execute_job in this process, one after the other as a worker
would, twice in the same run: with the images stored inline on the job's thread (how the worker ran before the
store thread) and on the store thread (how the Celery task runs now). Critical path = the time the drawing
thread spends per image outside the diffusion pipeline call (claim, events, hand-off, and the encode + upload +
rows where they run inline); the store thread's own time is reported apart, as the time until the last image
is stored. On this CPU-only machine the store thread competes with torch for the same two cores, so the
pipeline itself runs slower while it works; on a GPU the pipeline waits on the card, not on the cores.
Usage: python benchmarks/worker_path.py [--jobs 8] [--images 2] [--size 1024] [--steps 2]
"""

from __future__ import annotations

import argparse
import time

from _setup import configure, machine


def run_queue(user, *, jobs: int, images: int, size: int, steps: int, in_background: bool) -> dict[str, float]:
    from gallery.models import GeneratedImage
    from generation import runner, services
    from generation.models import GenerationJob, JobStatus
    from generation.store_queue import store_queue

    queued = [
        services.submit_job(
            user=user,
            prompt=f"worker path {index}",
            production_path="fashion",
            width=size,
            height=size,
            steps=steps,
            num_images=images,
            seed=index,
        )
        for index in range(jobs)
    ]
    started = time.perf_counter()
    for job in queued:
        outcome = runner.execute_job(job_id=job.pk, dispatch_token=str(job.dispatch_token), in_background=in_background)
        assert outcome in (runner.RunOutcome.SUCCEEDED, runner.RunOutcome.DRAWN), outcome
    handed_over = time.perf_counter()
    assert store_queue().drain(timeout=600)
    stored = time.perf_counter()
    ids = [job.pk for job in queued]
    assert GenerationJob.objects.filter(pk__in=ids, status=JobStatus.SUCCEEDED).count() == jobs
    seconds = list(GeneratedImage.objects.filter(job_id__in=ids).values_list("generation_seconds", flat=True))
    assert len(seconds) == jobs * images
    count = len(seconds)
    inside = sum(seconds)
    return {
        "critical_ms": 1000 * (handed_over - started - inside) / count,
        "pipeline_s": inside / count,
        "until_stored_s": (stored - started) / count,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()
    database = configure("worker_path", redis_db=7)

    from _stack import bench_users

    from generation.store_queue import shutdown_store_queue

    (user, _), *_ = bench_users(1, credits=100 * args.jobs * args.images * 10)
    print(f"machine: {machine()}")
    print(
        f"services: database={database}, tiny pipeline in this process; queue of {args.jobs} jobs x {args.images} "
        f"images at {args.size}x{args.size}, {args.steps} steps"
    )
    run_queue(user, jobs=1, images=1, size=args.size, steps=args.steps, in_background=False)  # warm-up
    results = {}
    for mode, in_background in (("inline (before)", False), ("store thread (after)", True)):
        results[mode] = run_queue(
            user, jobs=args.jobs, images=args.images, size=args.size, steps=args.steps, in_background=in_background
        )
        figures = results[mode]
        print(
            f"{mode}: critical path beyond the pipeline {figures['critical_ms']:.1f} ms/image; "
            f"pipeline {figures['pipeline_s']:.3f} s/image; until stored {figures['until_stored_s']:.3f} s/image"
        )
    shutdown_store_queue()
    before, after = results["inline (before)"], results["store thread (after)"]
    print(
        f"ratio after/before: critical path {after['critical_ms'] / before['critical_ms']:.3f}x "
        f"(goal <= 10 ms: {'met' if after['critical_ms'] <= 10 else 'missed'}), "
        f"time until stored {after['until_stored_s'] / before['until_stored_s']:.3f}x"
    )


if __name__ == "__main__":
    main()
