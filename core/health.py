"""Liveness (no I/O) and readiness (database, Redis/broker, storage, workers) probes, and the API's /health."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.db import connection
from django.http import HttpRequest, JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from generation.worker import online_workers

from .redis_clients import shared_redis


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"vendor": connection.vendor}


def check_redis() -> dict:
    shared_redis(timeout=1).ping()
    return {"embedded": settings.REDIS_EMBEDDED}


def check_storage() -> dict:
    name = default_storage.save(f"healthcheck/{uuid.uuid4().hex}.txt", ContentFile(b"ok"))
    default_storage.delete(name)
    return {"backend": type(storages["default"]).__name__}


def check_workers() -> dict:
    workers = online_workers()
    if not workers:
        raise RuntimeError("No worker has reported in the last minute.")
    return {"count": len(workers), "backends": sorted({str(w.get("backend")) for w in workers})}


CHECKS: dict[str, Callable[[], dict]] = {
    "database": check_database,
    "redis": check_redis,
    "storage": check_storage,
    "workers": check_workers,
}


def _is_staff(request: HttpRequest) -> bool:
    try:  # the session lives in the database, which may be the thing that is down
        return bool(request.user.is_authenticated and request.user.is_staff)
    except Exception:
        return False


def readiness(request: HttpRequest) -> tuple[dict, int]:
    """Which dependency is down, by name; error details only for staff (they can name hosts)."""
    results, down, errors = {}, [], {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            detail = check()
            results[name] = {"ok": True, **detail}
        except Exception as error:  # each failure is reported by name, never as a 500
            results[name] = {"ok": False, "error": type(error).__name__}
            errors[name] = f"{type(error).__name__}: {error}"
            down.append(name)
        results[name]["ms"] = round(1000 * (time.perf_counter() - started), 1)
    if errors and _is_staff(request):
        for name, message in errors.items():
            results[name]["error"] = message
    body = {"status": "ok" if not down else "unavailable", "down": down, "checks": results}
    return body, 503 if down else 200


def readyz(request: HttpRequest) -> JsonResponse:
    body, status = readiness(request)
    return JsonResponse(body, status=status)


# --- health -------------------------------------------------------------------------------------


class HealthCheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    ms = serializers.FloatField(help_text="How long the check took.")
    error = serializers.CharField(required=False, help_text="Why it failed (the exception's type; details for staff).")


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "unavailable"])
    down = serializers.ListField(child=serializers.CharField(), help_text="The names of the failing checks.")
    checks = serializers.DictField(
        child=HealthCheckSerializer(), help_text="database, redis, storage and workers, each with its own details."
    )


@extend_schema(
    tags=["health"],
    summary="Readiness of the service and its dependencies",
    responses={200: HealthSerializer, 503: HealthSerializer},
    auth=[],
)
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def api_health(request) -> Response:
    """The /readyz payload: 200 when the database, Redis, storage and at least one worker answer, else 503."""
    body, status_code = readiness(request._request)  # staff (by session) see the errors' details
    return Response(body, status=status_code)
