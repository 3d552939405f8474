"""Reads for jobs. Every queryset starts from the owner, so another user's job is simply not found."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Prefetch, QuerySet

from core.redis_clients import shared_redis
from gallery.models import GeneratedImage

from . import progress
from .events import sequence_key
from .models import FINAL_STATUSES, GenerationJob, JobStatus

SNAPSHOT_RECENT_JOBS = 20
SNAPSHOT_MAX_ACTIVE_JOBS = 100
NOT_QUEUED = {"queue_position": None, "estimated_start_seconds": None}


def jobs_for(user) -> QuerySet[GenerationJob]:
    return (
        GenerationJob.objects.filter(owner=user)
        .select_related("template")
        .prefetch_related(
            # Images in the gallery's trash are gone from the user's point of view.
            Prefetch("images", queryset=GeneratedImage.objects.filter(deleted_at__isnull=True).order_by("index"))
        )
    )


def browse_jobs(user) -> QuerySet[GenerationJob]:
    """The user's jobs as their list shows them: newest first, ties by id so pages never overlap.

    generation.filters.JobFilter narrows it by the list's query.
    """
    return jobs_for(user).order_by("-created_at", "-id")


def event_sequences(job_ids: Sequence[int]) -> dict[int, int]:
    """The number of the last event published for each job (0 when none yet), from its Redis counter."""
    if not job_ids:
        return {}
    values = shared_redis().mget([sequence_key(job_id) for job_id in job_ids])
    return {job_id: int(value or 0) for job_id, value in zip(job_ids, values, strict=True)}


def snapshot_job_ids(user, *, job_id: int | None = None) -> list[int]:
    """One job of the user's, or their unfinished jobs plus the latest SNAPSHOT_RECENT_JOBS."""
    jobs = GenerationJob.objects.filter(owner=user)
    if job_id is not None:
        return list(jobs.filter(pk=job_id).values_list("pk", flat=True))
    active = jobs.exclude(status__in=FINAL_STATUSES).values_list("pk", flat=True)[:SNAPSHOT_MAX_ACTIVE_JOBS]
    recent = jobs.values_list("pk", flat=True)[:SNAPSHOT_RECENT_JOBS]
    return sorted(set(active) | set(recent), reverse=True)


def job_snapshot(user, *, job_id: int | None = None) -> list[dict[str, Any]]:
    """Where each job stands, with `seq`, the number of the last event already reflected in it.

    The counters are read before the rows: an event is numbered after the write it announces, so the
    row read afterwards includes everything up to `seq`, and a client can drop events numbered <= seq.
    """
    from .events import image_event_payload, queue_fields

    job_ids = snapshot_job_ids(user, job_id=job_id)
    sequences = event_sequences(job_ids)
    jobs = list(jobs_for(user).filter(pk__in=job_ids).order_by("-created_at", "-id"))
    # A running job's step lives in Redis (read after the counters too: the worker records a step before it
    # publishes it), its row holds the last milestone.
    progress.overlay(jobs)
    return [
        {
            "job": job.pk,
            "status": job.status,
            "step": job.progress_step,
            "total": job.progress_total,
            "percent": job.percent,
            "num_images": job.num_images,
            "images": [image_event_payload(image) for image in job.images.all()],
            "error": job.last_error if job.status == JobStatus.FAILED else "",
            "seq": sequences.get(job.pk, 0),
            # Where a queued job stands now (its events refresh it as jobs ahead of it start).
            **(queue_fields(job) if job.status == JobStatus.QUEUED else NOT_QUEUED),
        }
        for job in jobs
    ]
