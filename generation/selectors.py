"""Reads for jobs. Every queryset starts from the owner, so another user's job is simply not found."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from gallery.models import GeneratedImage

from .models import GenerationJob


def jobs_for(user) -> QuerySet[GenerationJob]:
    return (
        GenerationJob.objects.filter(owner=user)
        .select_related("template")
        .prefetch_related(Prefetch("images", queryset=GeneratedImage.objects.order_by("index")))
    )
