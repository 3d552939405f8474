"""The API's pagination: page numbers over a totally ordered queryset.

Kept apart from core.api and free of view imports: DRF imports DEFAULT_PAGINATION_CLASS while it defines
its generic views.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

MAX_PAGE_SIZE = 100


def check_int_params(request: Any, **minimums: int) -> None:
    """A page parameter that is given must be a whole number >= its minimum: a 400 naming it, not a default."""
    errors = {}
    for name, minimum in minimums.items():
        value = request.query_params.get(name)
        if value is None:
            continue
        if not value.isascii() or not value.isdigit() or len(value) > 18 or int(value) < minimum:
            errors[name] = [f"Must be a whole number, at least {minimum}."]
    if errors:
        raise ValidationError(errors)


def stable_order(queryset: Any) -> Any:
    """Order a queryset totally: its own ordering (else newest first), then the primary key as tie-breaker.

    Without a unique last key, rows that tie (same created_at) may swap between two page queries, and a
    client paging through would see one twice and miss another.
    """
    if not isinstance(queryset, QuerySet):
        return queryset
    query = queryset.query
    ordering = list(query.order_by) or (list(queryset.model._meta.ordering) if query.default_ordering else [])
    if not ordering:
        has_created_at = any(field.name == "created_at" for field in queryset.model._meta.concrete_fields)
        return queryset.order_by(*(["-created_at"] if has_created_at else []), "-pk")
    pk_names = {"pk", "id", queryset.model._meta.pk.name}
    if any(isinstance(term, str) and term.lstrip("-") in pk_names for term in ordering):
        return queryset
    return queryset.order_by(*ordering, "-pk")


class Pagination(PageNumberPagination):
    """`?page=` (from 1) and `?page_size=` (default 20, at most 100); `{count, next, previous, results}`."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def paginate_queryset(self, queryset, request, view=None):
        check_int_params(request, page=1, page_size=1)  # a page_size over 100 is capped, not refused
        return super().paginate_queryset(stable_order(queryset), request, view)
