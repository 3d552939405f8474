"""Idempotency-Key on job submits: replay, conflicts, and what is not stored."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.idempotency import fingerprint, purge_expired
from accounts.models import IdempotencyRecord
from accounts.services import grant_credits
from generation.models import GenerationJob

from ..factories import JOB_REQUEST, UserFactory

pytestmark = pytest.mark.django_db


def post(client, body, key="key-1"):
    return client.post("/api/v1/jobs", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.fixture
def client_and_user():
    user = UserFactory(credits=10)
    client = APIClient()
    client.force_authenticate(user)
    return client, user


def test_the_same_key_and_body_return_the_first_response_without_a_second_job(client_and_user):
    client, user = client_and_user
    first = post(client, JOB_REQUEST)
    again = post(client, dict(reversed(list(JOB_REQUEST.items()))))  # same body, other key order
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert GenerationJob.objects.filter(owner=user).count() == 1
    user.refresh_from_db()
    assert user.credit_balance == 9


def test_the_same_key_with_another_body_is_409(client_and_user):
    client, user = client_and_user
    post(client, JOB_REQUEST)
    response = post(client, JOB_REQUEST | {"prompt": "something else"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert GenerationJob.objects.filter(owner=user).count() == 1


def test_keys_are_per_user(client_and_user):
    client, _ = client_and_user
    post(client, JOB_REQUEST)
    other = APIClient()
    other.force_authenticate(UserFactory())
    assert post(other, JOB_REQUEST).status_code == 202
    assert GenerationJob.objects.count() == 2


def test_a_validation_failure_stores_nothing(client_and_user):
    client, _ = client_and_user
    assert post(client, JOB_REQUEST | {"width": 1}).status_code == 400
    assert not IdempotencyRecord.objects.exists()
    assert post(client, JOB_REQUEST).status_code == 202


def test_a_refusal_for_credits_stores_nothing_so_a_retry_after_topping_up_works(client_and_user):
    client, user = client_and_user
    body = JOB_REQUEST | {"num_images": 4}
    assert post(client, body, key="k1").status_code == 202
    assert post(client, body, key="k2").status_code == 202
    assert post(client, body, key="k3").status_code == 402
    assert not IdempotencyRecord.objects.filter(key="k3").exists()
    grant_credits(user=user, amount=10, reason="Top-up", idempotency_key="top-up")
    assert post(client, body, key="k3").status_code == 202


def test_without_a_key_every_post_is_a_new_job(client_and_user):
    client, user = client_and_user
    client.post("/api/v1/jobs", JOB_REQUEST, format="json")
    client.post("/api/v1/jobs", JOB_REQUEST, format="json")
    assert GenerationJob.objects.filter(owner=user).count() == 2


def test_an_overlong_key_is_400(client_and_user):
    client, _ = client_and_user
    assert post(client, JOB_REQUEST, key="k" * 300).status_code == 400


def test_records_are_kept_24_hours_then_purged(client_and_user):
    client, _ = client_and_user
    post(client, JOB_REQUEST, key="old")
    post(client, JOB_REQUEST | {"seed": 8}, key="new")
    IdempotencyRecord.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    IdempotencyRecord.objects.filter(key="new").update(created_at=timezone.now() - timedelta(hours=23))
    assert purge_expired() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def in_flight(user, *, age):
    return IdempotencyRecord.objects.create(
        user=user,
        key="in-flight",
        request_hash=fingerprint("POST", "/api/v1/jobs", JOB_REQUEST),
        created_at=timezone.now() - age,
    )


def test_a_retry_while_the_first_request_still_runs_is_409_after_waiting(client_and_user, settings):
    client, user = client_and_user
    settings.IDEMPOTENCY_WAIT_SECONDS = 0.2
    in_flight(user, age=timedelta(seconds=1))
    response = post(client, JOB_REQUEST, key="in-flight")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_progress"
    assert not GenerationJob.objects.filter(owner=user).exists()


def test_a_key_whose_first_request_died_is_taken_over(client_and_user):
    client, user = client_and_user
    in_flight(user, age=timedelta(minutes=5))
    assert post(client, JOB_REQUEST, key="in-flight").status_code == 202
    assert GenerationJob.objects.filter(owner=user).count() == 1
