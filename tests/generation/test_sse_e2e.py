"""Server-Sent Events end to end: a real daphne server, a real Celery worker, an HTTP client reading the stream.

Jobs are submitted over HTTP to the same server, so the web process (job.queued) and the worker (everything
after) publish the same jobs' events at once; the streams must still show one order.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import httpx
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from accounts.services import create_api_key
from accounts.tokens import AccessToken
from generation.models import JobStatus

from ..factories import JOB_REQUEST, GenerationJobFactory
from ..processes import NGINX, DaphneProcess, GunicornProcess, NginxProcess
from ..waiting import job_when

pytestmark = pytest.mark.e2e

EVENT_TIMEOUT = 60
HEARTBEAT = 1  # seconds, for this module's server (SSE_HEARTBEAT_SECONDS)
FINAL = ("job.succeeded", "job.failed", "job.canceled")


@pytest.fixture(scope="module")
def daphne(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        server = DaphneProcess(SSE_HEARTBEAT_SECONDS=str(HEARTBEAT)).ready()
    yield server
    server.stop()


@dataclass
class Message:
    event: str = "message"
    id: int | None = None
    data: dict = field(default_factory=dict)


@dataclass
class Stream:
    """What a client read from one response: its messages in order, and its comment lines."""

    status: int
    content_type: str
    messages: list[Message] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    ended: bool = False  # the server closed it


def api_key_headers(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_api_key(user=user, name='sse')[1]}"}


def jwt_headers(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {AccessToken.for_user(user)}"}


def session_cookies(user) -> dict[str, str]:
    client = Client()
    client.force_login(user)
    return {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}


async def read(
    server: DaphneProcess | NginxProcess,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
    until=lambda stream: False,
    timeout: float = EVENT_TIMEOUT,
) -> Stream:
    """Read `path` until the server ends it or `until(stream)` holds (then hang up, as a client that goes away)."""
    async with httpx.AsyncClient(base_url=server.url, cookies=cookies, timeout=timeout) as http:
        request_headers = {"Accept": "text/event-stream", **(headers or {})}
        async with http.stream("GET", path, headers=request_headers) as response:
            stream = Stream(response.status_code, response.headers.get("content-type", ""))
            if response.status_code != 200:
                stream.messages.append(Message("error", None, json.loads(await response.aread())))
                return stream
            current = Message()
            lines = response.aiter_lines()
            while True:
                try:
                    line = await asyncio.wait_for(anext(lines), timeout)
                except StopAsyncIteration:
                    stream.ended = True
                    return stream
                if line.startswith(":"):
                    stream.comments.append(line[1:].strip())
                elif line.startswith("id: "):
                    current.id = int(line[4:])
                elif line.startswith("event: "):
                    current.event = line[7:]
                elif line.startswith("data: "):
                    current.data = json.loads(line[6:])
                elif line == "" and current.data:
                    stream.messages.append(current)
                    current = Message()
                if until(stream):
                    return stream


async def submit(server: DaphneProcess, headers: dict[str, str], **fields) -> dict:
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as http:
        response = await http.post("/api/v1/jobs", json=JOB_REQUEST | fields)
    assert response.status_code == 202, response.text
    return response.json()


async def job_when_in_thread(job_id: int, predicate) -> None:
    """tests.waiting.job_when off the event loop; the thread's database session closed after (not left to
    outlive the test database)."""

    def wait() -> None:
        try:
            job_when(job_id, predicate)
        finally:
            connection.close()

    await asyncio.to_thread(wait)


def last_is(stream: Stream, event_type: str) -> bool:
    return bool(stream.messages) and stream.messages[-1].event == event_type


def events_of(stream: Stream, job_id: int) -> list[Message]:
    return [message for message in stream.messages if message.event != "snapshot" and message.data["job"] == job_id]


def test_a_job_stream_sends_the_snapshot_then_every_event_in_order_and_ends_after_the_final_one(
    module_worker, daphne, transactional_db, user
):
    headers = api_key_headers(user)

    async def run():
        job = await submit(daphne, headers, steps=4, num_images=2)
        return job, await read(daphne, f"/api/v1/jobs/{job['id']}/events", headers=headers)

    job, stream = asyncio.run(run())
    assert (stream.status, stream.content_type) == (200, "text/event-stream")
    snapshot, *rest = stream.messages
    assert snapshot.event == "snapshot" and [entry["job"] for entry in snapshot.data["jobs"]] == [job["id"]]
    assert snapshot.id == snapshot.data["jobs"][0]["seq"]
    ids = [message.id for message in rest]
    assert ids == list(range(snapshot.id + 1, snapshot.id + 1 + len(rest))), "every event once, in order"
    assert all(message.id == message.data["seq"] and message.event == message.data["type"] for message in rest)
    types = [message.event for message in rest]
    assert types[-1] == "job.succeeded" and types.count("job.image") == 2
    assert stream.ended, "the job's stream ends after its final event"
    assert job_when(job["id"], lambda row: row.status == JobStatus.SUCCEEDED).images.count() == 2


def test_the_account_stream_shows_each_new_job_queued_first_then_its_workers_events_in_one_order(
    module_worker, daphne, transactional_db, user, set_tier
):
    set_tier("free", max_queued_jobs=10)
    cookies = session_cookies(user)
    headers = api_key_headers(user)
    submitted: list[dict] = []

    def all_finished(stream: Stream) -> bool:
        finished = {message.data["job"] for message in stream.messages if message.event in FINAL}
        return len(submitted) == 3 and finished >= {job["id"] for job in submitted}

    async def run():
        reading = asyncio.ensure_future(read(daphne, "/api/v1/events", cookies=cookies, until=all_finished))
        await asyncio.sleep(1)  # the stream is open (its snapshot sent) before the first submit
        # Three at once: the web numbers one job's job.queued while the worker publishes another's events.
        submitted.extend(await asyncio.gather(*(submit(daphne, headers, steps=3) for _ in range(3))))
        return await reading

    stream = asyncio.run(run())
    assert stream.messages[0].event == "snapshot"
    account_ids = [message.id for message in stream.messages[1:]]
    assert account_ids == list(range(account_ids[0], account_ids[0] + len(account_ids))), "one account order"
    assert account_ids[0] == stream.messages[0].id + 1
    for job in submitted:
        mine = events_of(stream, job["id"])
        assert mine[0].event == "job.queued", [message.event for message in mine]
        assert [message.data["seq"] for message in mine] == list(range(1, len(mine) + 1)), "queued first, seq 1"
        assert mine[0].data["queue_position"] is not None and mine[-1].event == "job.succeeded"
        assert all(message.id == message.data["account_seq"] for message in mine)
    # One worker: the last job waits while the second starts, and hears that it is next.
    last = events_of(stream, max(job["id"] for job in submitted))
    places = [message.data["queue_position"] for message in last if message.event == "job.queued"]
    assert len(places) > 1 and places[-1] == 0, places


def test_a_client_that_reconnects_with_last_event_id_gets_exactly_the_events_it_missed(
    module_worker, daphne, transactional_db, user
):
    headers = api_key_headers(user)

    async def run():
        job = await submit(daphne, headers, steps=8, num_images=2)
        path = f"/api/v1/jobs/{job['id']}/events"
        first = await read(daphne, path, headers=headers, until=lambda s: last_is(s, "job.progress"))
        await job_when_in_thread(job["id"], lambda row: row.progress_step >= 10)  # events go on unheard
        resumed = await read(daphne, path, headers={**headers, "Last-Event-ID": str(first.messages[-1].id)})
        return first, resumed

    first, resumed = asyncio.run(run())
    assert resumed.messages[0].event != "snapshot", "a covered resume sends no snapshot"
    seen = [message.id for message in first.messages[1:] + resumed.messages]
    assert seen == list(range(first.messages[0].id + 1, first.messages[0].id + 1 + len(seen))), "no gap, no repeat"
    assert resumed.messages[-1].event == "job.succeeded" and resumed.ended
    assert any(message.event == "job.progress" and message.data["step"] >= 10 for message in resumed.messages)


def test_the_account_stream_resumes_after_its_last_event_id(module_worker, daphne, transactional_db, user):
    cookies, headers = session_cookies(user), api_key_headers(user)

    async def run():
        opening = await read(daphne, "/api/v1/events", cookies=cookies, until=lambda s: bool(s.messages))
        job = await submit(daphne, headers, steps=3)  # while nobody listens
        await job_when_in_thread(job["id"], lambda row: row.status == JobStatus.SUCCEEDED)
        resumed = await read(
            daphne,
            "/api/v1/events",
            cookies=cookies,
            headers={"Last-Event-ID": str(opening.messages[0].id)},
            until=lambda s: last_is(s, "job.succeeded"),
        )
        return opening, job, resumed

    opening, job, resumed = asyncio.run(run())
    assert resumed.messages[0].event != "snapshot"
    assert [message.id for message in resumed.messages] == list(
        range(opening.messages[0].id + 1, opening.messages[0].id + 1 + len(resumed.messages))
    )
    assert {message.data["job"] for message in resumed.messages} == {job["id"]}
    assert [message.data["seq"] for message in resumed.messages] == list(range(1, len(resumed.messages) + 1))


def test_a_last_event_id_the_history_no_longer_covers_falls_back_to_the_snapshot(daphne, transactional_db, user):
    job = GenerationJobFactory(owner=user, succeeded=True)  # no events recorded for it
    stream = asyncio.run(
        read(daphne, f"/api/v1/jobs/{job.pk}/events", headers={**api_key_headers(user), "Last-Event-ID": "5"})
    )
    assert [message.event for message in stream.messages] == ["snapshot"] and stream.ended
    assert stream.messages[0].data["jobs"][0]["status"] == "succeeded"


@pytest.mark.parametrize("credentials", ["api_key", "jwt", "session"])
def test_each_api_authentication_opens_a_stream(daphne, transactional_db, user, credentials):
    job = GenerationJobFactory(owner=user)
    kwargs = {
        "api_key": {"headers": api_key_headers(user)},
        "jwt": {"headers": jwt_headers(user)},
        "session": {"cookies": session_cookies(user)},
    }[credentials]
    for path in (f"/api/v1/jobs/{job.pk}/events", "/api/v1/events"):
        stream = asyncio.run(read(daphne, path, until=lambda s: bool(s.messages), **kwargs))
        assert (stream.status, stream.messages[0].event) == (200, "snapshot"), path
        assert [entry["job"] for entry in stream.messages[0].data["jobs"]] == [job.pk]
        assert stream.messages[0].data["jobs"][0]["queue_position"] == 0


def test_streams_are_refused_to_strangers_and_for_other_users_jobs(daphne, transactional_db, user, other_user):
    theirs = GenerationJobFactory(owner=other_user)
    mine = api_key_headers(user)

    async def run():
        return [
            await read(daphne, "/api/v1/events"),
            await read(daphne, "/api/v1/events", headers={"Authorization": "Bearer zk_not-a-key"}),
            await read(daphne, f"/api/v1/jobs/{theirs.pk}/events", headers=mine),
            await read(daphne, "/api/v1/jobs/999999999/events", headers=mine),
            await read(daphne, "/api/v1/events", headers={**mine, "Last-Event-ID": "twelve"}),
        ]

    answers = asyncio.run(run())
    assert [stream.status for stream in answers] == [401, 401, 404, 404, 400]
    assert [stream.messages[0].data["error"]["code"] for stream in answers[2:]] == ["not_found", "not_found", "invalid"]
    assert list(answers[4].messages[0].data["error"]["fields"]) == ["Last-Event-ID"]


def test_an_idle_stream_carries_a_heartbeat_comment(daphne, transactional_db, user):
    stream = asyncio.run(
        read(daphne, "/api/v1/events", headers=api_key_headers(user), until=lambda s: len(s.comments) >= 2)
    )
    assert stream.comments[:2] == ["heartbeat", "heartbeat"]
    assert [message.event for message in stream.messages] == ["snapshot"]


@pytest.fixture
def proxy(daphne, transactional_db, tmp_path):
    """deploy/nginx.conf in front of gunicorn (web) and this module's daphne (ws), as compose runs them."""
    if NGINX is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx-light; .ci/run installs it)")
    web = GunicornProcess().ready()
    upstreams = {
        "web:8000": f"127.0.0.1:{web.port}",
        "ws:8001": f"127.0.0.1:{daphne.port}",
        "minio:9000": "127.0.0.1:9",
    }
    nginx = NginxProcess(upstreams=upstreams, directory=tmp_path)
    try:
        yield nginx.ready()
    finally:
        nginx.stop()
        web.stop()


def test_the_proxy_sends_both_streams_to_daphne_unbuffered(proxy, user):
    job = GenerationJobFactory(owner=user)
    headers = api_key_headers(user)
    # The job's stream at document 000's path too (compat.doc000): the same route in deploy/nginx.conf.
    for path in ("/api/v1/events", f"/api/v1/jobs/{job.pk}/events", f"/api/v1/generate/{job.pk}/stream"):
        # Heartbeats come from daphne alone (gunicorn would answer the opening and end), one a second here:
        # two of them arriving while the stream stays open means nothing holds them back on the way.
        stream = asyncio.run(read(proxy, path, headers=headers, until=lambda s: len(s.comments) >= 2, timeout=10))
        assert (stream.status, stream.messages[0].event, stream.ended) == (200, "snapshot", False), path
        assert stream.comments[:2] == ["heartbeat", "heartbeat"]
