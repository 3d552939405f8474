"""Through a real Celery worker: a job's webhooks arrive signed, started before completed, numbered in the job's
one event order, with the submitting request's id, and a receiver that hangs never holds the job up."""

import threading

import pytest
from standardwebhooks.webhooks import Webhook

from generation import events
from generation.models import JobStatus
from tests.conftest import client_for
from tests.factories import JOB_REQUEST
from tests.waiting import finished_job, wait_until
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_slot_worker(start_worker, broker):
    """Two pool processes: the job on one, its deliveries on the other (the default queue)."""
    return start_worker(concurrency=2)


def test_a_jobs_webhooks_arrive_signed_and_in_order(user, receiver, two_slot_worker):
    client = client_for(user)
    body = JOB_REQUEST | {"webhook_url": receiver.url, "webhook_events": ["started", "completed"]}
    job = client.post("/api/v1/jobs", body, format="json", HTTP_X_REQUEST_ID="click-to-hook").json()
    assert finished_job(job["id"]).status == JobStatus.SUCCEEDED
    wait_until(lambda: len(receiver.requests) >= 2, timeout=60, message="two deliveries")
    assert [headers["x-request-id"] for headers, _ in receiver.requests] == ["click-to-hook"] * 2
    secret = client.get("/api/v1/webhooks/default/secret").json()["secret"]
    payloads = [Webhook(secret).verify(body, headers) for headers, body in receiver.requests]
    assert [payload["type"] for payload in payloads] == ["job.started", "job.succeeded"]
    assert payloads[1]["data"]["status"] == "succeeded" and payloads[1]["data"]["images"]
    assert len({headers["webhook-id"] for headers, _ in receiver.requests}) == 2
    # The seq the WebSocket and SSE clients saw for the same two events.
    seq_of = {event.event["type"]: event.seq for event in events.job_history(job["id"])[1]}
    assert [payload["seq"] for payload in payloads] == [seq_of["job.started"], seq_of["job.succeeded"]]


def test_a_hanging_receiver_never_holds_the_job_up(user, receiver, two_slot_worker):
    release, entered = threading.Event(), threading.Event()
    handler = receiver.server.RequestHandlerClass
    original = handler.do_POST

    def hang(self):
        entered.set()
        release.wait(60)
        original(self)

    handler.do_POST = hang
    try:
        body = JOB_REQUEST | {"webhook_url": receiver.url, "webhook_events": ["started", "completed"]}
        job = client_for(user).post("/api/v1/jobs", body, format="json").json()
        # The job finishes while the receiver holds its first delivery open (and no request has been answered).
        wait_until(entered.is_set, timeout=60, message="the first delivery at the receiver")
        assert finished_job(job["id"]).status == JobStatus.SUCCEEDED
        assert receiver.requests == []
        assert WebhookDelivery.objects.filter(job_id=job["id"]).exists()
    finally:
        release.set()
