"""Writes for templates: seeding the curated catalog, revising a template into a new version, presets."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import PromptKind, PromptPreset, Template
from .seed_templates import CURATED_TEMPLATES

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

REVISABLE_FIELDS = frozenset(
    {
        "name",
        "description",
        "sample_prompt",
        "production_path",
        "credit_cost",
        "config",
        "overridable",
        "bounds",
        "max_images",
    }
)


@transaction.atomic
def seed_curated_templates() -> int:
    """Create the curated templates whose slug is new. Idempotent: existing ones (and their
    later versions) are left as staff edited them."""
    created = 0
    existing = set(
        Template.objects.filter(slug__in=[spec["slug"] for spec in CURATED_TEMPLATES]).values_list("slug", flat=True)
    )
    for spec in CURATED_TEMPLATES:
        if spec["slug"] in existing:
            continue
        Template.objects.create(version=1, **spec)
        created += 1
    return created


@transaction.atomic
def revise_template(*, template: Template, **changes: Any) -> Template:
    """Save `changes` as version n+1 of the template's slug and retire the active version from listings.

    Earlier versions stay in the database unchanged, so each job keeps the exact version it ran with.
    """
    unknown = set(changes) - REVISABLE_FIELDS
    if unknown:
        raise ValidationError({name: _("This field cannot be changed in a revision.") for name in sorted(unknown)})
    # Lock every version of the slug: two concurrent revisions must not both become n+1.
    versions = list(Template.objects.select_for_update().filter(slug=template.slug).order_by("-version"))
    revision = Template(
        slug=template.slug,
        version=versions[0].version + 1,
        is_active=True,
        **{name: getattr(template, name) for name in REVISABLE_FIELDS},
    )
    for name, value in changes.items():
        setattr(revision, name, value)
    # A preview shows what the pipeline draws: it carries over only while the drawing settings do.
    if revision.config == template.config and revision.sample_prompt == template.sample_prompt:
        revision.preview = template.preview.name
    revision.clean()
    Template.objects.filter(slug=template.slug, is_active=True).update(is_active=False)
    revision.save()
    logger.info(
        "template revised",
        extra={"template": template.slug, "version": revision.version, "changed": sorted(changes)},
    )
    return revision


@transaction.atomic
def activate_template(*, template: Template) -> Template:
    """Make this version the one users see and pick; the slug's other active version (at most one) is retired."""
    list(Template.objects.select_for_update().filter(slug=template.slug))
    now = timezone.now()
    Template.objects.filter(slug=template.slug, is_active=True).exclude(pk=template.pk).update(
        is_active=False, updated_at=now
    )
    Template.objects.filter(pk=template.pk).update(is_active=True, updated_at=now)
    template.is_active = True
    logger.info("template activated", extra={"template": template.slug, "version": template.version})
    return template


def deactivate_template(*, template: Template) -> Template:
    """Hide the template from listings and refuse new jobs with it; jobs that used it keep pointing at it."""
    Template.objects.filter(pk=template.pk).update(is_active=False, updated_at=timezone.now())
    template.is_active = False
    logger.info("template deactivated", extra={"template": template.slug, "version": template.version})
    return template


def create_prompt_preset(*, owner: User, name: str, text: str, kind: str = PromptKind.PROMPT) -> PromptPreset:
    return _save_preset(PromptPreset(owner=owner, name=name, text=text, kind=kind))


def update_prompt_preset(*, preset: PromptPreset, **changes: Any) -> PromptPreset:
    for name in ("name", "text", "kind"):
        if name in changes:
            setattr(preset, name, changes[name])
    return _save_preset(preset)


def _save_preset(preset: PromptPreset) -> PromptPreset:
    preset.full_clean(validate_constraints=False)
    duplicate = PromptPreset.objects.filter(owner=preset.owner_id, kind=preset.kind, name=preset.name)
    if duplicate.exclude(pk=preset.pk).exists():
        if preset.kind == PromptKind.NEGATIVE:
            message = _("You already have a negative prompt preset named %(name)s.")
        else:
            message = _("You already have a prompt preset named %(name)s.")
        raise ValidationError({"name": message % {"name": repr(preset.name)}})
    preset.save()
    return preset


def delete_prompt_preset(*, preset: PromptPreset) -> None:
    preset.delete()
