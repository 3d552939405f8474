"""Reads for campaign batches; every one starts from the owner, so another user's batch is never found."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from django.db.models import Prefetch, QuerySet
from django.utils.text import slugify

from gallery.models import GeneratedImage
from generation.models import JobStatus

from .models import Batch, BatchJob

if TYPE_CHECKING:
    from accounts.models import User

PROMPT_SLUG_LENGTH = 40  # enough to tell a campaign's prompts apart in a file list


def batches_for(user: User) -> QuerySet[Batch]:
    """The owner's batches, newest first, with their jobs (in the batch's order) loaded in two queries."""
    entries = BatchJob.objects.select_related("job").order_by("position")
    return (
        Batch.objects.filter(owner=user)
        .select_related("template")
        .prefetch_related(Prefetch("entries", queryset=entries))
        .order_by("-created_at", "-id")
    )


def status_counts(batch: Batch) -> dict[str, int]:
    """How many of its jobs are in each status (every status present, zeros included)."""
    counted = Counter(entry.job.status for entry in batch.entries.all())
    return {status: counted.get(status, 0) for status in JobStatus.values}


def zip_name(*, prompt: str, size_preset: str, number: int) -> str:
    """`<prompt-slug>_<size-preset>_<n>.png`: the preset's ':' is written 'x' (16:9 -> 16x9) for every OS."""
    slug = slugify(prompt[:200])[:PROMPT_SLUG_LENGTH].strip("-") or "image"
    return f"{slug}_{size_preset.replace(':', 'x')}_{number}.png"


def zip_entries(batch: Batch) -> list[tuple[str, str]]:
    """(name in the zip, storage key) of every image the batch's jobs produced and the owner has not trashed, in
    the batch's order; a name two prompts share gets -2, -3... so no file overwrites another."""
    entry_of = {entry.job_id: entry for entry in batch.entries.all()}
    images = (
        GeneratedImage.objects.filter(owner_id=batch.owner_id, job_id__in=entry_of, deleted_at__isnull=True)
        .only("job_id", "index", "file")
        .order_by("job_id", "index")
    )
    ordered = sorted(images, key=lambda image: (entry_of[image.job_id].position, image.index))
    taken: set[str] = set()
    entries = []
    for image in ordered:
        entry = entry_of[image.job_id]
        name = zip_name(prompt=entry.prompt, size_preset=entry.size_preset, number=image.index + 1)
        stem, suffix, n = name.removesuffix(".png"), ".png", 2
        while name in taken:
            name, n = f"{stem}-{n}{suffix}", n + 1
        taken.add(name)
        entries.append((name, str(image.file.name)))
    return entries
