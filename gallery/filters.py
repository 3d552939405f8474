"""The gallery's filters, used by both the images API (`GET /api/v1/images`) and the website's grid (/gallery/)."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from core.filters import MAX_ID, DateOrDateTimeFilter, FilterSet, SlugFilter, StrictBooleanFilter
from generation.engine.paths import PATH_CHOICES

from .models import GeneratedImage

UNFILED = "none"


class FolderField(forms.RegexField):
    """A folder id (within the 64-bit range ids have) or "none"; the id is checked here, never by the database."""

    default_error_messages = {"out_of_range": _("No folder has this id.")}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(r"^(\d+|none)$", **kwargs)

    def clean(self, value: Any) -> int | str | None:
        text = super().clean(value)
        if not text or text == UNFILED:
            return text or None
        if len(text) > len(str(MAX_ID)) or int(text) > MAX_ID or int(text) < 1:
            raise forms.ValidationError(self.error_messages["out_of_range"], code="out_of_range")
        return int(text)


class FolderFilter(django_filters.Filter):
    """Images in this folder (by id: another user's folder simply has none of yours), or in no folder."""

    field_class = FolderField

    def filter(self, qs: QuerySet, value: int | str | None) -> QuerySet:
        if value is None:
            return qs
        if value == UNFILED:
            return qs.filter(folder__isnull=True)
        return qs.filter(folder_id=value)


class ImageFilter(FilterSet):
    """Narrows the owner's live images (selectors.live_images_for); every filter given must hold."""

    path = django_filters.ChoiceFilter(field_name="production_path", choices=PATH_CHOICES)
    template = SlugFilter(field_name="template__slug")
    folder = FolderFilter(help_text="A folder id, or none (unfiled).")
    tag = django_filters.CharFilter(field_name="tags__name", lookup_expr="iexact", max_length=50)
    favourite = StrictBooleanFilter(field_name="is_favourite")
    created_after = DateOrDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = DateOrDateTimeFilter(field_name="created_at", lookup_expr="lt", end_of_day=True)
    q = django_filters.CharFilter(
        method="filter_words", max_length=200, help_text="Words that must all appear in the prompt."
    )

    class Meta:
        model = GeneratedImage
        fields: list[str] = []

    def filter_words(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        for word in value.split():
            queryset = queryset.filter(prompt_used__icontains=word)
        return queryset
