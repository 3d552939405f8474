"""The template catalogue's and the prompt presets' list filters (`GET /api/v1/templates`, `/prompt-presets`)."""

from __future__ import annotations

import django_filters

from core.filters import FilterSet
from generation.engine.paths import PATHS

from .models import PromptKind, PromptPreset, Template


def _path_filter(help_text: str) -> django_filters.ChoiceFilter:
    names = sorted(PATHS)  # alphabetical, as this filter has always listed and documented them
    message = f"Unknown production path %(value)r; choose one of: {', '.join(names)}."
    return django_filters.ChoiceFilter(
        field_name="production_path",
        choices=[(name, name) for name in names],
        help_text=help_text,
        error_messages={"invalid_choice": message},
    )


class TemplateFilter(FilterSet):
    """Narrows the listed templates (selectors.listed_templates) to one production path."""

    path = _path_filter("Only this production path's templates.")
    production_path = _path_filter("The same as `path` (its first name).")

    class Meta:
        model = Template
        fields: list[str] = []


class PromptPresetFilter(FilterSet):
    kind = django_filters.ChoiceFilter(choices=PromptKind.choices)

    class Meta:
        model = PromptPreset
        fields: list[str] = []
