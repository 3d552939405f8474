"""Idempotency-Key for POST endpoints, as Stripe does it, crash-safe.

The record of a key is written in the same database transaction as everything the request creates (jobs,
batches, credit reservations): the decorator opens the transaction, inserts the key's row (or waits on it),
runs the view inside and stores its 2xx response before committing. So either the rows and the stored response
commit together, or neither does: a process that dies mid-request leaves no job, no reserved credit and no
record, and a retry with the same key runs as if it were the first. A retry after a commit gets the stored
response without running anything; the same key with another body gets 409. A duplicate that arrives while
the first still runs waits on the row's lock (up to IDEMPOTENCY_WAIT_SECONDS, then 409 in progress) and then
replays. Failures (validation, 402, 429, errors) store nothing, so the client may retry with the same key.
Jobs are sent to the queue only once that transaction commits (`transaction.on_commit` in the services).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from core.openapi import IDEMPOTENCY_HEADER

from .exceptions import IdempotencyKeyReused, IdempotentRequestInProgress
from .models import IdempotencyRecord, User

HEADER = IDEMPOTENCY_HEADER
MAX_KEY_LENGTH = 255
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE when lock_timeout expires
OPENAPI_PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    description="Retry safely: the same key and body return the first response (24 h) and create nothing more; "
    "another body gets 409. The key is stored in the same transaction as what the request creates.",
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
            raise ValidationError({HEADER: [_("Send 1 to %(max)s printable characters.") % {"max": MAX_KEY_LENGTH}]})
        return run_idempotent(
            user=request.user,
            key=key,
            request_hash=request_fingerprint(request),
            handler=lambda: view_method(view, request, *args, **kwargs),
        )

    return wrapper


def run_idempotent(*, user: User, key: str, request_hash: str, handler: Callable[[], Response]) -> Response:
    """Run `handler` once per (user, key), its writes and the stored response in one transaction."""
    with transaction.atomic():
        record = _claim(user=user, key=key)
        if record.response_status is not None:
            if record.request_hash != request_hash:
                raise IdempotencyKeyReused(key)
            body = json.loads(record.response_body)
            return Response(body, status=record.response_status, headers={"Idempotent-Replayed": "true"})
        response = handler()  # an exception rolls back its writes and the claim alike
        if not 200 <= response.status_code < 300:
            transaction.set_rollback(True)  # a refusal answered without raising: nothing of it is kept
            return response
        record.request_hash = request_hash
        record.response_status = response.status_code
        record.response_body = json.dumps(response.data, cls=DjangoJSONEncoder)
        record.save(update_fields=["request_hash", "response_status", "response_body"])
        return response


def _claim(*, user: User, key: str) -> IdempotencyRecord:
    """The key's row, locked by this transaction: inserted now, or the committed one (its response stored).

    The insert waits while another transaction holds an uncommitted row for the key (the first request, still
    running), then finds that row committed (replay) or gone (rolled back: this request inserts it and runs).
    A row without a response that is committed can only be left by an older release of this code: it is taken.
    """
    with transaction.atomic(savepoint=False):
        previous_timeout = _set_lock_timeout(f"{int(settings.IDEMPOTENCY_WAIT_SECONDS * 1000)}ms")
        try:
            IdempotencyRecord.objects.bulk_create(
                [IdempotencyRecord(user=user, key=key, request_hash="")], ignore_conflicts=True
            )
            record = IdempotencyRecord.objects.select_for_update().get(user=user, key=key)
        except OperationalError as error:
            if getattr(error.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                raise IdempotentRequestInProgress(key) from error
            raise
        if previous_timeout is not None:
            _set_lock_timeout(previous_timeout)
    return record


def _set_lock_timeout(value: str) -> str | None:
    """Set PostgreSQL's lock_timeout for the rest of this transaction; the previous value (None elsewhere)."""
    if connection.vendor != "postgresql":
        return None  # SQLite (make run without a database): writers queue on the database lock instead
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)", [value])
        previous: str = cursor.fetchone()[0]
    return previous


def purge_expired(*, older_than: float | None = None) -> int:
    """Forget keys older than IDEMPOTENCY_KEY_TTL (24 h by default)."""
    ttl = settings.IDEMPOTENCY_KEY_TTL if older_than is None else older_than
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - timedelta(seconds=ttl)).delete()
    return deleted
