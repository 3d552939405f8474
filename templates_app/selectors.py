"""Reads for templates and prompt presets."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import PromptPreset, Template


def listed_templates() -> QuerySet[Template]:
    """The catalogue (each slug's latest active version) by production path, then name; TemplateFilter narrows it."""
    return Template.objects.listed().order_by("production_path", "name")


def template_for_jobs(slug: str) -> Template | None:
    """What a job naming `slug` runs with: the latest active version, or None."""
    return Template.objects.latest_active(slug)


def prompt_presets_for(user) -> QuerySet[PromptPreset]:
    return PromptPreset.objects.filter(owner=user)
