"""Deliveries to a real HTTP receiver on loopback: signed per Standard Webhooks, retried, coalesced, SSRF-checked."""

import functools

import pytest
from django.test import override_settings
from standardwebhooks.webhooks import Webhook

from generation.events import job_body
from tests.factories import GenerationJobFactory
from webhooks import services
from webhooks.models import DeliveryStatus, WebhookDelivery


@pytest.fixture
def job(user):
    return GenerationJobFactory(owner=user)


def deliver(job, endpoint, event_type="job.succeeded"):
    ids = services.fan_out_job_event(
        job_id=job.pk,
        event_type=event_type,
        endpoints=[endpoint],
        body=functools.partial(job_body, job.pk),
        timestamp=1_700_000_000.0,
    )
    return [services.attempt_delivery(delivery_id=delivery_id) for delivery_id in ids], ids


def test_a_delivery_is_signed_and_verifies_with_standardwebhooks(user, job, receiver):
    endpoint = services.endpoint_create(owner=user, url=receiver.url, events=["completed"])
    outcomes, _ = deliver(job, endpoint)
    assert outcomes == ["succeeded"]
    headers, body = receiver.requests[0]
    payload = Webhook(endpoint.secret).verify(body, headers)
    assert payload["type"] == "job.succeeded"
    assert payload["data"]["id"] == job.pk
    assert headers["webhook-id"].startswith("msg_")


def test_a_delivery_carries_the_request_id_of_the_jobs_submit(user, receiver):
    job = GenerationJobFactory(owner=user, request_id="click-99")
    endpoint = services.endpoint_create(owner=user, url=receiver.url, events=["completed"])
    assert deliver(job, endpoint)[0] == ["succeeded"]
    headers, _ = receiver.requests[0]
    assert headers["x-request-id"] == "click-99"


def test_an_event_nobody_subscribes_to_writes_nothing(user, job, receiver):
    endpoint = services.endpoint_create(owner=user, url=receiver.url, events=["completed"])
    assert deliver(job, endpoint, "job.started") == ([], [])
    assert receiver.requests == []


@override_settings(WEBHOOK_RETRY_SCHEDULE=[0.0, 0.0])
def test_a_500_is_retried_with_the_same_id_then_given_up(user, job, receiver):
    endpoint = services.endpoint_create(owner=user, url=receiver.url, events=["completed"])
    receiver.statuses = [500, 500, 500]
    outcomes, [delivery_id] = deliver(job, endpoint)
    assert outcomes == ["retrying"]
    assert services.attempt_delivery(delivery_id=delivery_id) == "retrying"
    assert services.attempt_delivery(delivery_id=delivery_id) == "failed"
    assert services.attempt_delivery(delivery_id=delivery_id) == "skipped"
    assert len({headers["webhook-id"] for headers, _ in receiver.requests}) == 1
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert [(a.status_code, a.error) for a in delivery.attempt_log.all()] == [(500, "HTTP 500")] * 3
    assert delivery.attempt_log.last().next_retry_at is None


def test_a_retry_after_a_500_can_succeed(user, job, receiver):
    endpoint = services.endpoint_create(owner=user, url=receiver.url, events=["completed"])
    receiver.statuses = [500]
    _, [delivery_id] = deliver(job, endpoint)
    assert WebhookDelivery.objects.get(pk=delivery_id).attempt_log.get().next_retry_at is not None
    assert services.attempt_delivery(delivery_id=delivery_id) == "succeeded"
    assert WebhookDelivery.objects.get(pk=delivery_id).status == DeliveryStatus.SUCCEEDED


def test_the_default_schedule_retries_for_over_a_day():
    delays = [services.retry_delay(attempt) for attempt in range(1, 9)]
    assert delays[-1] is None
    assert sum(delay for delay in delays if delay) > 24 * 3600


def test_an_earlier_event_goes_first(user, job, receiver):
    endpoint = services.endpoint_create(owner=user, url=receiver.url, events=["started", "completed"])
    make = functools.partial(
        services.fan_out_job_event,
        job_id=job.pk,
        endpoints=[endpoint],
        body=functools.partial(job_body, job.pk),
        timestamp=1.0,
    )
    [started] = make(event_type="job.started")
    [completed] = make(event_type="job.succeeded")
    with pytest.raises(services.WaitForEarlier):
        services.attempt_delivery(delivery_id=completed)
    services.attempt_delivery(delivery_id=started)
    services.attempt_delivery(delivery_id=completed)
    assert [body["type"] for body in receiver.bodies()] == ["job.started", "job.succeeded"]


def test_progress_is_coalesced_to_one_waiting_delivery(user, job, receiver):
    endpoint = services.endpoint_create(owner=user, url=receiver.url, events=["progress"])
    for _ in range(3):
        services.fan_out_job_event(
            job_id=job.pk, event_type="job.progress", endpoints=[endpoint], body=lambda: {"n": 1}, timestamp=1.0
        )
    assert WebhookDelivery.objects.filter(job=job).count() == 1


def test_the_address_is_checked_again_on_every_attempt(user, job, receiver):
    endpoint = services.endpoint_create(owner=user, url=receiver.url, events=["completed"])
    with override_settings(WEBHOOK_ALLOW_PRIVATE_NETWORKS=False):
        outcomes, [delivery_id] = deliver(job, endpoint)
    assert outcomes == ["retrying"]
    assert receiver.requests == []
    assert "private" in WebhookDelivery.objects.get(pk=delivery_id).attempt_log.get().error


def test_a_dead_receiver_is_a_recorded_error(user, job, receiver):
    endpoint = services.endpoint_create(owner=user, url=receiver.url, events=["completed"])
    receiver.stop()
    outcomes, [delivery_id] = deliver(job, endpoint)
    assert outcomes == ["retrying"]
    attempt = WebhookDelivery.objects.get(pk=delivery_id).attempt_log.get()
    assert attempt.status_code is None and attempt.error


def test_redeliver_sends_the_same_message_again(user, job, receiver, api_client):
    endpoint = services.endpoint_create(owner=user, url=receiver.url, events=["completed"])
    _, [delivery_id] = deliver(job, endpoint)
    response = api_client.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery_id}/redeliver")
    assert response.status_code == 202
    assert services.attempt_delivery(delivery_id=delivery_id) == "succeeded"
    assert len({headers["webhook-id"] for headers, _ in receiver.requests}) == 1
    assert len(receiver.requests) == 2
    listed = api_client.get(f"/api/v1/jobs/{job.pk}/webhook-deliveries").json()["results"]
    assert [len(item["attempt_log"]) for item in listed] == [2]
