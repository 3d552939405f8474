"""The generate page's preset picker reads the user's prompt presets through this tag, so the page's view needs no
change for it (templates/templates_app/_preset_picker.html)."""

from __future__ import annotations

from django import template
from django.db.models import QuerySet

from templates_app.models import PromptPreset
from templates_app.selectors import prompt_presets_for

register = template.Library()


@register.simple_tag
def prompt_presets_of(user) -> QuerySet[PromptPreset]:
    if not getattr(user, "is_authenticated", False):
        return PromptPreset.objects.none()
    return prompt_presets_for(user).order_by("kind", "name", "id")
