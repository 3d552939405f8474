"""Jobs in known states for admin and operations tests, made through the real services where it matters."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.utils import timezone

from accounts.services import reserve_credits, settle_job_credits
from gallery.models import GeneratedImage
from generation import services
from generation.models import GenerationJob, JobStatus

JOB = dict(prompt="a linen summer dress", production_path="fashion", width=256, height=256, steps=2)


def submit(user, **fields) -> GenerationJob:
    """submit_job as the API calls it: validated, stored queued, credits reserved (no dispatch inside a test
    transaction: on_commit never fires)."""
    return services.submit_job(user=user, **(JOB | fields))


def job_row(owner, **fields) -> GenerationJob:
    """A stored job with its credit reservation, without plan limits: for data sets of many jobs."""
    values = dict(
        prompt="a linen summer dress",
        model="Tongyi-MAI/Z-Image-Turbo",
        scheduler="FlowMatchEulerDiscrete",
        steps=2,
        guidance=0.0,
        width=256,
        height=256,
        seed=1,
        workflow=[{"node_type": "generation", "parameters": {}}],
        num_images=1,
    )
    values |= fields
    values.setdefault("credit_cost", values["num_images"])
    job = GenerationJob.objects.create(owner=owner, **values)
    reserve_credits(user=owner, job=job)
    return job


def timed_job(
    owner,
    *,
    status: str,
    created: datetime | None = None,
    wait: float | None = None,
    processing: float | None = None,
    **fields,
) -> GenerationJob:
    """A job created at `created`, started `wait` s later, finished `processing` s after that; settled if final."""
    created = created or timezone.now() - timedelta(hours=2)
    started = created + timedelta(seconds=wait) if wait is not None else None
    finished = started + timedelta(seconds=processing) if started and processing is not None else None
    if status in (JobStatus.FAILED, JobStatus.CANCELED) and finished is None:
        finished = (started or created) + timedelta(seconds=1)
    job = job_row(owner, created_at=created, **fields)
    GenerationJob.objects.filter(pk=job.pk).update(
        status=status,
        started_at=started,
        finished_at=finished,
        images_done=job.num_images if status == JobStatus.SUCCEEDED else 0,
    )
    job.refresh_from_db()
    if job.is_final:
        settle_job_credits(job=job)
    return job


def image_row(owner, **fields) -> GeneratedImage:
    """A stored image row of a finished job (no file behind it): for admin pages and sweepers."""
    job = job_row(owner, status="succeeded")
    name = f"images/{owner.pk}/{job.pk}/{uuid.uuid4().hex}"
    return GeneratedImage.objects.create(
        owner=owner,
        job=job,
        index=0,
        file=f"{name}.png",
        thumbnail=f"{name}.webp",
        width=8,
        height=8,
        seed=1,
        model=job.model,
        backend="tiny",
        steps=2,
        guidance=0.0,
        prompt_used=job.prompt,
        generation_seconds=0.1,
        production_path=job.production_path,
        **fields,
    )
