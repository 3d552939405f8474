"""Server-Sent Events without a server: refusals, resume from the history, and the WSGI answer.

The streams themselves, held open by daphne with a real worker publishing, are in test_sse_e2e.py.
"""

from __future__ import annotations

import pytest
from django.utils import translation

from generation import events

from ..conftest import client_for
from ..factories import GenerationJobFactory


def messages(response) -> list[tuple[int | None, str, str]]:
    """(id, event, data) of each message in a finished stream's body."""
    found = []
    for block in b"".join(response.streaming_content).decode().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if "data" in fields:
            found.append((int(fields["id"]) if "id" in fields else None, fields["event"], fields["data"]))
    return found


def published(job, *event_types: str) -> None:
    for event_type in event_types:
        assert events.publish(job, event_type, total=4)
    assert events.get_publisher().flush(timeout=10)


@pytest.mark.django_db
class TestRefusals:
    @pytest.mark.parametrize("value", ["twelve", "-1", "1.5", "1e3", "٣", "9" * 19])
    def test_a_last_event_id_that_is_not_an_event_number_is_a_400_naming_the_header(self, user, value):
        job = GenerationJobFactory(owner=user)
        for path in (f"/api/v1/jobs/{job.pk}/events", "/api/v1/events"):
            response = client_for(user).get(path, HTTP_LAST_EVENT_ID=value)
            assert response.status_code == 400, (path, value)
            assert response["Content-Type"] == "application/json"
            assert list(response.json()["error"]["fields"]) == ["Last-Event-ID"]

    def test_the_header_error_is_translated(self, user):
        with translation.override("ko"):
            response = client_for(user).get("/api/v1/events", HTTP_LAST_EVENT_ID="x", HTTP_ACCEPT_LANGUAGE="ko")
        (message,) = response.json()["error"]["fields"]["Last-Event-ID"]
        assert message != "Must be the id of an event this stream sent (a whole number)."

    def test_another_users_job_is_not_found_whatever_the_accept_header(self, user, other_user):
        theirs = GenerationJobFactory(owner=other_user)
        response = client_for(user).get(f"/api/v1/jobs/{theirs.pk}/events", HTTP_ACCEPT="text/event-stream")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
class TestOpening:
    """Under WSGI the answer is the stream's opening alone: what daphne would send first, then the end."""

    def test_a_stream_opens_with_the_snapshot_then_says_why_it_ends(self, user):
        job = GenerationJobFactory(owner=user)
        response = client_for(user).get(f"/api/v1/jobs/{job.pk}/events")
        assert (response.status_code, response["Content-Type"]) == (200, "text/event-stream")
        assert response["Cache-Control"] == "no-cache" and response["X-Accel-Buffering"] == "no"
        ((event_id, event, data),) = messages(response)
        assert (event_id, event) == (0, "snapshot") and f'"job":{job.pk}' in data

    def test_a_resume_sends_exactly_the_events_after_the_last_event_id(self, user):
        job = GenerationJobFactory(owner=user, running=True)
        published(job, "job.started", "job.progress", "job.progress", "job.progress")
        response = client_for(user).get(f"/api/v1/jobs/{job.pk}/events", HTTP_LAST_EVENT_ID="2")
        assert [(event_id, event) for event_id, event, _ in messages(response)] == [
            (3, "job.progress"),
            (4, "job.progress"),
        ]

    def test_a_resume_at_the_latest_event_sends_nothing_more(self, user):
        job = GenerationJobFactory(owner=user, running=True)
        published(job, "job.started")
        assert messages(client_for(user).get(f"/api/v1/jobs/{job.pk}/events", HTTP_LAST_EVENT_ID="1")) == []

    def test_a_number_beyond_the_latest_event_gets_the_snapshot(self, user):
        job = GenerationJobFactory(owner=user, running=True)
        published(job, "job.started")
        response = client_for(user).get(f"/api/v1/jobs/{job.pk}/events", HTTP_LAST_EVENT_ID="7")
        assert [(event_id, event) for event_id, event, _ in messages(response)] == [(1, "snapshot")]

    def test_a_finished_job_with_no_events_on_record_gets_the_snapshot_that_ends_its_stream(self, user):
        job = GenerationJobFactory(owner=user, succeeded=True)
        response = client_for(user).get(f"/api/v1/jobs/{job.pk}/events", HTTP_LAST_EVENT_ID="0")
        assert [(event_id, event) for event_id, event, _ in messages(response)] == [(0, "snapshot")]

    def test_the_account_stream_resumes_by_the_accounts_own_numbers(self, user):
        first, second = GenerationJobFactory(owner=user, running=True), GenerationJobFactory(owner=user, running=True)
        published(first, "job.started")
        start = events.account_sequence(user.pk)
        published(second, "job.started")
        published(first, "job.progress")
        response = client_for(user).get("/api/v1/events", HTTP_LAST_EVENT_ID=str(start))
        found = messages(response)
        assert [event_id for event_id, _, _ in found] == [start + 1, start + 2]
        assert [(f'"job":{second.pk}' in data, f'"job":{first.pk}' in data) for _, _, data in found] == [
            (True, False),
            (False, True),
        ]


@pytest.mark.parametrize("path", ["/api/v1/jobs/{id}/events", "/api/v1/events"])
def test_both_streams_are_documented_under_jobs_as_event_streams(path):
    from ..api.conftest import openapi_schema

    operation = openapi_schema()["paths"][path]["get"]
    assert operation["tags"] == ["jobs"]
    assert list(operation["responses"]["200"]["content"]) == ["text/event-stream"]
    assert {"400", "401"} <= set(operation["responses"])
    assert [p["name"] for p in operation["parameters"] if p["in"] == "header"] == ["Last-Event-ID"]
