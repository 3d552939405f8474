"""Idempotency-Key for POST endpoints, as Stripe does it.

The first request with a key claims it (a committed row), runs, and stores its 2xx response; a retry with
the same key and body gets that response again without running anything, the same key with another
body gets 409. Requests arriving while the first is still running wait for it. Failures (validation,
402, 429, errors) store nothing, so the client may retry with the same key.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from core.openapi import IDEMPOTENCY_HEADER

from .exceptions import IdempotencyKeyReused, IdempotentRequestInProgress
from .models import IdempotencyRecord, User

HEADER = IDEMPOTENCY_HEADER
MAX_KEY_LENGTH = 255
POLL_INTERVAL = 0.05
OPENAPI_PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    description="Retry safely: the same key and body return the first response (24 h); another body gets 409.",
)


def request_fingerprint(request: Request) -> str:
    data = request.data
    if hasattr(data, "lists"):  # a QueryDict from a form body
        data = {key: values for key, values in data.lists()}
    return fingerprint(request.method, request.path, data)


def fingerprint(method: str, path: str, data: Any) -> str:
    """Method, path and the parsed body, key order ignored."""
    canonical = json.dumps([method, path, data], sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent(view_method: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate a DRF view's `post`: honour an Idempotency-Key header when the client sends one."""

    @wraps(view_method)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return view_method(view, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise ValidationError({HEADER: [f"Send 1 to {MAX_KEY_LENGTH} printable characters."]})
        return run_idempotent(
            user=request.user,
            key=key,
            request_hash=request_fingerprint(request),
            handler=lambda: view_method(view, request, *args, **kwargs),
        )

    return wrapper


def run_idempotent(*, user: User, key: str, request_hash: str, handler: Callable[[], Response]) -> Response:
    deadline = time.monotonic() + settings.IDEMPOTENCY_WAIT_SECONDS
    while True:
        record, claimed = IdempotencyRecord.objects.get_or_create(
            user=user, key=key, defaults={"request_hash": request_hash}
        )
        if claimed:
            break
        if record.request_hash != request_hash:
            raise IdempotencyKeyReused(key)
        if record.response_status is not None:
            body = json.loads(record.response_body)
            return Response(body, status=record.response_status, headers={"Idempotent-Replayed": "true"})
        if record.created_at < timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_ABANDONED_AFTER):
            _release(record)  # its request died mid-way: the key is free again
        elif time.monotonic() > deadline:
            raise IdempotentRequestInProgress(key)
        else:
            time.sleep(POLL_INTERVAL)
    try:
        response = handler()
    except BaseException:
        _release(record)
        raise
    if 200 <= response.status_code < 300:
        record.response_status = response.status_code
        record.response_body = json.dumps(response.data, cls=DjangoJSONEncoder)
        record.save(update_fields=["response_status", "response_body"])
    else:
        _release(record)
    return response


def _release(record: IdempotencyRecord) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk, response_status__isnull=True).delete()


def purge_expired(*, older_than: float | None = None) -> int:
    """Forget keys older than IDEMPOTENCY_KEY_TTL (24 h by default)."""
    ttl = settings.IDEMPOTENCY_KEY_TTL if older_than is None else older_than
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - timedelta(seconds=ttl)).delete()
    return deleted
