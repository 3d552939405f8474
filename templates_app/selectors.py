"""Reads for templates and prompt presets."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import PromptPreset, Template


def listed_templates(*, production_path: str | None = None) -> QuerySet[Template]:
    templates = Template.objects.listed()
    if production_path:
        templates = templates.filter(production_path=production_path)
    return templates.order_by("production_path", "name")


def template_for_jobs(slug: str) -> Template | None:
    """What a job naming `slug` runs with: the latest active version, or None."""
    return Template.objects.latest_active(slug)


def prompt_presets_for(user) -> QuerySet[PromptPreset]:
    return PromptPreset.objects.filter(owner=user)
