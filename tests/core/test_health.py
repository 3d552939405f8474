"""/healthz says the process is alive without any I/O; /readyz names each dependency that is down."""

import time

import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient

from generation.worker import HEARTBEAT_KEY_PREFIX

CLOSED_REDIS_URL = "redis://127.0.0.1:1/0"


def forget_worker_heartbeats() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(f"{HEARTBEAT_KEY_PREFIX}*"))
    if keys:
        client.delete(*keys)


@pytest.mark.django_db
def test_healthz_answers_without_a_database_query(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_stays_up_when_redis_is_unreachable(client, settings):
    # No django_db mark: any database access here would raise, so this also proves healthz never opens one.
    settings.REDIS_URL = CLOSED_REDIS_URL
    response = client.get("/healthz")
    assert response.status_code == 200


@pytest.mark.e2e
def test_readyz_is_ok_when_database_redis_storage_and_a_worker_are_up(worker, client):
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["down"] == []
    assert set(body["checks"]) == {"database", "redis", "storage", "workers"}
    assert all(check["ok"] for check in body["checks"].values()), body
    assert body["checks"]["workers"]["count"] >= 1
    assert body["checks"]["workers"]["backends"] == ["tiny"]


@pytest.mark.django_db
def test_readyz_names_workers_when_no_worker_has_reported(client):
    forget_worker_heartbeats()
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["down"] == ["workers"]
    assert body["checks"]["workers"]["ok"] is False
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"] and body["checks"]["storage"]["ok"]


@pytest.mark.django_db
def test_readyz_names_redis_with_a_503_not_a_500_when_redis_is_unreachable(client, settings):
    settings.REDIS_URL = CLOSED_REDIS_URL
    started = time.monotonic()
    response = client.get("/readyz")
    elapsed = time.monotonic() - started
    body = response.json()
    assert response.status_code == 503
    assert "redis" in body["down"]
    assert body["checks"]["redis"]["ok"] is False
    assert "ConnectionError" in body["checks"]["redis"]["error"]
    assert body["checks"]["database"]["ok"] is True
    assert elapsed < 5, f"readiness took {elapsed:.1f}s with Redis down"


def test_health_is_the_readiness_payload_without_login(client, db):
    api = APIClient().get("/api/v1/health")
    probe = client.get("/readyz")
    assert api.status_code == probe.status_code
    assert set(api.json()) == set(probe.json()) == {"status", "down", "checks"}
    assert set(api.json()["checks"]) == {"database", "redis", "storage", "workers"}
