"""Which queued job starts next on a path, and how long a queued job should wait.

A first-in-first-out placeholder (oldest first within the path) with the signatures the API, the live events
and the website read; the fair scheduler (issue #19 part 4) replaces the internals, not the signatures.
"""

from __future__ import annotations

from django.db.models import Q

from .models import GenerationJob, JobStatus


def queue_positions(path: str) -> dict[int, int]:
    """Every queued job on `path`: its id -> how many queued jobs start before it."""
    queued = (
        GenerationJob.objects.filter(production_path=path, status=JobStatus.QUEUED)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    return {job_id: position for position, job_id in enumerate(queued)}


def _ahead(job: GenerationJob) -> Q:
    return Q(created_at__lt=job.created_at) | Q(created_at=job.created_at, pk__lt=job.pk)


def queue_position(job: GenerationJob) -> int | None:
    """How many queued jobs on the job's path start before it; None unless it is queued."""
    if job.status != JobStatus.QUEUED:
        return None
    return (
        GenerationJob.objects.filter(production_path=job.production_path, status=JobStatus.QUEUED)
        .filter(_ahead(job))
        .count()
    )


def estimated_start_seconds(job: GenerationJob) -> float | None:
    """Seconds until the job should start: the estimates of the jobs ahead of it and of what runs on the path now
    (the part not yet done), shared out over the jobs running there (a stand-in for its workers). None unless queued.
    """
    from .services import estimate_seconds

    if job.status != JobStatus.QUEUED:
        return None
    path_jobs = GenerationJob.objects.filter(production_path=job.production_path)
    running = list(path_jobs.filter(status=JobStatus.RUNNING))
    ahead = path_jobs.filter(status=JobStatus.QUEUED).filter(_ahead(job))
    remaining = sum(estimate_seconds(other) * (100 - other.percent) / 100 for other in running)
    waiting = sum(estimate_seconds(other) for other in ahead)
    return round((remaining + waiting) / max(1, len(running)), 1)
