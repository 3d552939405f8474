"""List filters: one django-filter `FilterSet` per list, shared by its API view and its website page.

The base `FilterSet` adds what every list needs on top of django-filter: the pagination parameters (validated
and documented with the filters; the paginator reads them), a list of the query's unknown parameters (the API
refuses them, the website ignores them), and form fields that never let a value reach the database that it
cannot compare (a folder id past the 64-bit range is an error here, not an overflow on SQLite).
`FilterBackend` is how an API view uses one: `filterset_class = ...`; core.openapi documents its filters.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions

from .pagination import MAX_PAGE_SIZE

# The largest id a BigAutoField holds: PostgreSQL's bigint and SQLite's INTEGER are both signed 64-bit.
MAX_ID = 2**63 - 1
# A page number or size past this is no real request; the bound keeps the integer small for every backend.
MAX_PAGE_NUMBER = 10**9
UNKNOWN_PARAMETER = "Unknown field."  # the same words as an unknown field in a body (core.api)


class BooleanField(forms.Field):
    """true/false (also 1/0, yes/no, on/off, any case); anything else is an error, not "not given"."""

    TRUE = frozenset({"true", "1", "yes", "on", "t", "y"})
    FALSE = frozenset({"false", "0", "no", "off", "f", "n"})
    default_error_messages = {"invalid": _("Use true or false.")}

    def to_python(self, value: Any) -> bool | None:
        text = str(value).strip().lower() if value is not None else ""
        if text == "":
            return None
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class DateOrDateTimeField(forms.Field):
    """An ISO date-time, or a plain date meaning its start (or, with `end_of_day`, the start of the next day)."""

    default_error_messages = {
        "invalid": _("Use a date (2026-01-31) or an ISO 8601 date-time."),
        "out_of_range": _("Date out of range."),
    }

    def __init__(self, *, end_of_day: bool = False, **kwargs: Any) -> None:
        self.end_of_day = end_of_day
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> dt.datetime | None:
        text = str(value).strip() if value is not None else ""
        if text == "":
            return None
        try:
            day = parse_date(text)  # first: parse_datetime would also read a bare date, as midnight
            moment = None if day else parse_datetime(text)
        except ValueError:
            day = moment = None
        if moment is not None:
            return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
        if day is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        try:
            start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
            return start + dt.timedelta(days=1) if self.end_of_day else start
        except OverflowError:
            raise forms.ValidationError(self.error_messages["out_of_range"], code="out_of_range") from None


class DateOrDateTimeFilter(django_filters.Filter):
    """`created_at >= value` (lookup_expr="gte") or `< value` (lookup_expr="lt", with end_of_day=True)."""

    field_class = DateOrDateTimeField


class StrictBooleanFilter(django_filters.Filter):
    field_class = BooleanField


class SlugFilter(django_filters.CharFilter):
    field_class = forms.SlugField


class PageParameter(django_filters.Filter):
    """A pagination parameter: validated and documented with the filters, read by the paginator, filters nothing."""

    field_class = forms.IntegerField

    def __init__(self, *, min_value: int, **kwargs: Any) -> None:
        super().__init__(min_value=min_value, max_value=MAX_PAGE_NUMBER, **kwargs)

    def filter(self, qs: QuerySet, value: Any) -> QuerySet:
        return qs


class FilterSet(django_filters.FilterSet):
    """The filters of one list, plus the pagination parameters every list takes."""

    NOT_FILTERS = frozenset({"format"})  # DRF's renderer switch (?format=api: the browsable API), not a filter

    page = PageParameter(min_value=1)
    page_size = PageParameter(min_value=1, help_text=f"At most {MAX_PAGE_SIZE}; more is capped.")

    def unknown_parameters(self) -> list[str]:
        """Query parameters this list does not know: a typo would otherwise filter nothing, silently."""
        return sorted(set(self.data or ()) - set(self.filters) - self.NOT_FILTERS)

    def problems(self) -> dict[str, list[str]]:
        """Every unknown parameter and every invalid value, by parameter name; empty when the query is valid."""
        found: dict[str, list[str]] = {name: [UNKNOWN_PARAMETER] for name in self.unknown_parameters()}
        for name, messages in self.form.errors.items():
            found[name] = [str(message) for message in messages]
        return found

    def filter_names_with_errors(self) -> list[str]:
        """The website's view of a bad query: the known filters whose value was refused (its paginator copes
        with a bad page number on its own)."""
        return [name for name in self.form.errors if not isinstance(self.filters.get(name), PageParameter)]


class FilterBackend(DjangoFilterBackend):
    """The view's `filterset_class` narrows its list; an unknown parameter or a bad value is a 400 naming it.

    Lists only: a detail route of the same viewset is never filtered (a stray parameter there changes nothing).
    """

    def filter_queryset(self, request: Any, queryset: QuerySet, view: Any) -> QuerySet:
        if getattr(view, "action", "list") != "list":
            return queryset
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        problems = filterset.problems()
        if problems:
            raise exceptions.ValidationError(problems)
        return filterset.qs
