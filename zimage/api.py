"""One error shape for every 4xx: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from accounts import exceptions as accounts_errors


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [str(item) for item in detail]
        return [_flatten(item) for item in detail]
    return [str(detail)]


def _accounts_error(exc: accounts_errors.AccountsError) -> Response:
    """402 for credits, 429 (+ Retry-After) for limits and lockouts, 409 for a reused Idempotency-Key."""
    extra: dict[str, Any] = {}
    retry_after = None
    if isinstance(exc, accounts_errors.InsufficientCredits):
        status, code, extra = 402, "insufficient_credits", {"balance": exc.balance, "cost": exc.cost}
    elif isinstance(exc, accounts_errors.TooManyJobs):
        status, code, retry_after = 429, "too_many_jobs", exc.retry_after
    elif isinstance(exc, accounts_errors.LoginLockedOut):
        status, code, retry_after = 429, "locked_out", exc.retry_after
    elif isinstance(exc, accounts_errors.IdempotentRequestInProgress):
        status, code, retry_after = 409, "idempotency_key_in_progress", 1
    elif isinstance(exc, accounts_errors.IdempotencyKeyReused):
        status, code = 409, "idempotency_key_reused"
    else:
        status, code = 400, "account_error"
    set_rollback()
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    body = {"code": code, "message": str(exc), "fields": {}, **extra}
    return Response({"error": body}, status=status, headers=headers)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, accounts_errors.AccountsError):
        return _accounts_error(exc)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(fields)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        fields = _flatten(detail)
        first_field, first_errors = next(iter(fields.items()), ("", ["Invalid input."]))
        message = first_errors[0] if isinstance(first_errors, list) and first_errors else "Invalid input."
        if isinstance(message, dict | list):
            message = "Invalid input."
        body = {
            "code": "invalid",
            "message": f"{first_field}: {message}" if first_field != "non_field_errors" else message,
            "fields": fields,
        }
    else:
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        if isinstance(exc, Http404):
            code = "not_found"
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else response.data
        body = {"code": code if isinstance(code, str) else "error", "message": str(detail), "fields": {}}
    response.data = {"error": body}
    return response


__all__ = ["exception_handler"]
