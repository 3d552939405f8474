"""The jobs list's filters (`GET /api/v1/jobs`)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from core.filters import DateOrDateTimeFilter, FilterSet, SlugFilter

from .engine.paths import PATH_CHOICES
from .models import GenerationJob, JobStatus


class JobFilter(FilterSet):
    """Narrows the owner's jobs (selectors.browse_jobs). (`skip`/`limit` make /api/v1/jobs document 002's list:
    compat.doc002.)"""

    status = django_filters.ChoiceFilter(choices=JobStatus.choices)
    path = django_filters.ChoiceFilter(
        field_name="production_path", choices=PATH_CHOICES, help_text="A production path."
    )
    template = SlugFilter(field_name="template__slug", max_length=100, help_text="A template's slug.")
    created_after = DateOrDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="A date or date-time; inclusive."
    )
    created_before = DateOrDateTimeFilter(
        field_name="created_at",
        lookup_expr="lt",
        end_of_day=True,
        help_text="A date (that whole day included) or date-time (exclusive).",
    )

    class Meta:
        model = GenerationJob
        fields: list[str] = []


class JobPageFilter(JobFilter):
    """The website's jobs page: the API's filters, plus words that must all appear in the prompt."""

    q = django_filters.CharFilter(method="filter_words", max_length=200)

    def filter_words(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        for word in value.split():
            queryset = queryset.filter(prompt__icontains=word)
        return queryset
