"""What every /api/v1/ endpoint shares: one error shape, strict input, stable pagination.

Errors: every 4xx answers `{"error": {"code", "message", "fields"}}`, produced here and only here.
"""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponseRedirect
from django.urls import Resolver404, ResolverMatch, resolve
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from .errors import DomainError
from .pagination import Pagination, stable_order
from .parsers import PayloadTooLarge

# --- errors ------------------------------------------------------------------------------------


class Conflict(exceptions.APIException):
    """409: the object is not in a state that allows this (a job that is not failed cannot be retried)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = gettext_lazy("The request conflicts with the current state of the object.")
    default_code = "conflict"


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [str(item) for item in detail]
        return [_flatten(item) for item in detail]
    return [str(detail)]


def _domain_error(exc: DomainError) -> Response:
    """A service's refusal: the status and code its class declares (402 credits, 429 limits, 409 keys, ...)."""
    set_rollback()
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    body = {"code": exc.code, "message": str(exc), "fields": {}, **exc.details()}
    return Response({"error": body}, status=exc.status_code, headers=headers)


def _validation_body(exc: exceptions.ValidationError) -> dict[str, Any]:
    """`message` names the first field at fault; `fields` has every field's messages."""
    detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
    fields = _flatten(detail)
    first_field, first_errors = next(iter(fields.items()), ("", [_("Invalid input.")]))
    message = first_errors[0] if isinstance(first_errors, list) and first_errors else _("Invalid input.")
    if isinstance(message, dict | list):
        message = _("Invalid input.")
    return {
        "code": "invalid",
        "message": f"{first_field}: {message}" if first_field not in {"", "non_field_errors"} else message,
        "fields": fields,
    }


def _translate(exc: Exception) -> Exception:
    """Django's own exceptions, as the DRF exception each one means."""
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return exceptions.ValidationError(fields)
    if isinstance(exc, Http404):
        return exceptions.NotFound(str(exc) or None)
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, SuspiciousOperation):  # too many fields or files, a malformed multipart body
        return exceptions.ParseError(str(exc) or None)
    return exc


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return _domain_error(exc)
    exc = _translate(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not an API error: a 500, logged and answered by Django
    if isinstance(exc, exceptions.ValidationError):
        body = _validation_body(exc)
    else:
        data = response.data
        detail = data.get("detail", "") if isinstance(data, dict) else data
        code = getattr(exc, "default_code", "error")
        if isinstance(data, dict) and isinstance(data.get("code"), str):  # simplejwt's token errors
            code = data["code"]
        elif isinstance(exc, exceptions.APIException) and isinstance(exc.get_codes(), str):
            code = exc.get_codes()
        body = {"code": code, "message": str(detail), "fields": {}}
    response.data = {"error": body}
    return response


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([])
def not_found(request, *args: Any, **kwargs: Any) -> Response:
    """Any other path under /api/v1/: a 404 in the API's error shape, not an HTML page.

    A GET that only lacks its trailing slash (/api/v1/docs) is redirected, as APPEND_SLASH would have done.
    """
    if request.method == "GET" and not request.path.endswith("/"):
        match = resolve_or_none(request.path + "/")
        if match is not None and match.func is not not_found:
            return HttpResponseRedirect(request.get_full_path().replace(request.path, request.path + "/", 1))
    raise exceptions.NotFound(
        _("No endpoint %(path)s. The endpoints are listed at /api/v1/docs/.") % {"path": request.path}
    )


def resolve_or_none(path: str) -> ResolverMatch | None:
    try:
        return resolve(path)
    except Resolver404:
        return None


# --- input --------------------------------------------------------------------------------------


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


class StrictSerializerMixin:
    """Unknown fields in a body are an error, not silently ignored (a typo would otherwise change nothing).

    So is a NUL character anywhere in a value: PostgreSQL cannot store one, and a lookup with one fails.
    """

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "keys"):
            unknown = set(data.keys()) - set(self.fields)  # type: ignore[attr-defined]
            if unknown:
                raise serializers.ValidationError(
                    {str(name): [_("Unknown field.")] for name in sorted(map(str, unknown))}
                )
            values = data.lists() if hasattr(data, "lists") else data.items()
            with_nul = sorted(name for name, value in values if _has_nul(value))
            if with_nul:
                raise serializers.ValidationError({name: [_("Null characters are not allowed.")] for name in with_nul})
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictSerializer(StrictSerializerMixin, serializers.Serializer):
    pass


class ModelSerializer(serializers.ModelSerializer):
    """DRF's ModelSerializer, reading its model's fields once per class instead of on every instance.

    DRF rebuilds a ModelSerializer's fields from the model for each instance, a third of the time a job's
    representation takes. They depend on the class alone (Meta and declared fields), so they are built once
    and copied for each instance, as DRF already copies declared fields.
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        built = type(self).__dict__.get("_built_fields")
        if built is None:
            built = super().get_fields()
            type(self)._built_fields = built
        return copy.deepcopy(built)


__all__ = [
    "Conflict",
    "Pagination",
    "StrictSerializer",
    "StrictSerializerMixin",
    "exception_handler",
    "not_found",
    "stable_order",
]
