"""End-to-end live progress: a real daphne server, a real Celery worker, a real WebSocket client.

The job is submitted over HTTP with a browser's session cookie and CSRF token, every event is read
from the socket in order, and the image URLs the events carry are downloaded from the same server.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils.crypto import get_random_string
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from generation.events import job_history, sequence_key
from generation.models import GenerationJob, JobStatus

from ..factories import GenerationJobFactory
from ..processes import DaphneProcess
from ..waiting import live_job, wait_until

pytestmark = pytest.mark.e2e

EVENT_TIMEOUT = 60
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def daphne(transactional_db):
    server = DaphneProcess().ready()
    yield server
    server.stop()


class Browser:
    """A logged-in browser: session cookie, CSRF cookie + header, and our own origin on sockets."""

    def __init__(self, server: DaphneProcess, user):
        client = Client()
        client.force_login(user)
        self.server = server
        self.csrf = get_random_string(32)
        self.cookies = {
            settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value,
            settings.CSRF_COOKIE_NAME: self.csrf,
        }

    def socket(self, path: str, *, origin: str | None = None, cookies: bool = True):
        headers = {"Origin": origin or self.server.url}
        if cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        return connect(f"{self.server.ws_url}{path}", additional_headers=headers, open_timeout=10)

    async def submit(self, **fields) -> dict:
        async with httpx.AsyncClient(base_url=self.server.url, cookies=self.cookies, timeout=30) as http:
            response = await http.post("/api/v1/jobs", json=fields, headers={"X-CSRFToken": self.csrf})
        assert response.status_code == 202, response.text
        return response.json()


async def receive(ws) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), EVENT_TIMEOUT))


async def receive_until_final(ws, job_id: int) -> list[dict]:
    received = []
    while not received or received[-1]["type"] not in ("job.succeeded", "job.failed", "job.canceled"):
        event = await receive(ws)
        assert event["job"] == job_id, event
        received.append(event)
    return received


def final_seq(job_id: int) -> int:
    """The job's last event number once its publisher has sent it (it lands a moment after the row)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    deadline = time.monotonic() + 5
    value = None
    while time.monotonic() < deadline:
        value = client.get(sequence_key(job_id))
        time.sleep(0.2)
        if value == client.get(sequence_key(job_id)):
            break
    return int(value or 0)


def test_a_job_streams_every_event_in_order_and_its_images_download(worker, daphne, user):
    browser = Browser(daphne, user)

    async def run():
        async with browser.socket("/ws/jobs/") as ws:
            snapshot = await receive(ws)
            job = await browser.submit(
                prompt="red sneakers on a plinth",
                production_path="fashion",
                width=256,
                height=256,
                steps=6,
                num_images=2,
            )
            events = await receive_until_final(ws, job["id"])
        async with httpx.AsyncClient(base_url=daphne.url, timeout=30) as http:
            downloads = {}
            for image in events[-1]["images"]:
                for key in ("url", "thumbnail_url"):
                    response = await http.get(image[key])
                    downloads[image[key]] = (response.status_code, response.headers["content-type"], response.content)
        return snapshot, job, events, downloads

    snapshot, job, events, downloads = asyncio.run(run())
    assert snapshot == {"type": "snapshot", "jobs": []}
    types = [event["type"] for event in events]
    assert types[:2] == ["job.queued", "job.started"] and types[-1] == "job.succeeded", types
    assert types.count("job.image") == 2 and "job.progress" in types
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))  # in order, none lost
    assert events[-1]["seq"] == final_seq(job["id"])
    assert [event["status"] for event in events[2:]] == ["running"] * (len(events) - 3) + ["succeeded"]

    progress = [event for event in events if event["type"] == "job.progress"]
    assert [event["step"] for event in progress] == sorted({event["step"] for event in progress})
    assert (progress[-1]["step"], progress[-1]["total"], progress[-1]["percent"]) == (12, 12, 100)
    assert all({"eta_seconds", "percent"} <= set(event) for event in progress)
    previews = [event["preview"] for event in progress if "preview" in event]
    assert previews and all(preview.startswith("data:image/webp;base64,") for preview in previews)

    announced = [event["image"] for event in events if event["type"] == "job.image"]
    assert sorted(image["index"] for image in announced) == [0, 1]
    assert {image["id"] for image in events[-1]["images"]} == {image["id"] for image in announced}
    for image in events[-1]["images"]:
        status, content_type, body = downloads[image["url"]]
        assert (status, content_type, body[:8]) == (200, "image/png", PNG_MAGIC)
        assert downloads[image["thumbnail_url"]][:2] == (200, "image/webp")


def separate_connection():
    """A second database session; its transaction can hold a job's row lock, which pauses the worker
    at its next per-step UPDATE while the database stays readable."""
    db = connection.settings_dict
    return psycopg.AsyncConnection.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"], password=db["PASSWORD"]
    )


def wait_for_step(job_id: int, step: int, timeout: float = EVENT_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while live_job(job_id).progress_step < step:
        assert time.monotonic() < deadline, f"job {job_id} never reached step {step}"
        time.sleep(0.005)


def announced(job_id: int) -> list[str]:
    return [entry.event["type"] for entry in job_history(job_id)[1]]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pauses the worker with a PostgreSQL row lock")
def test_a_client_that_reconnects_mid_job_gets_the_current_state_then_the_rest(worker, daphne, user):
    browser = Browser(daphne, user)

    async def first_visit():
        async with browser.socket("/ws/jobs/") as ws:
            await receive(ws)
            job = await browser.submit(
                prompt="a long banner", production_path="fashion", width=512, height=512, steps=50, num_images=2
            )
            before = []
            while not before or before[-1]["type"] != "job.progress":
                before.append(await receive(ws))
        return job, before

    async def second_visit(job_id: int):
        async with await separate_connection() as lock:
            async with lock.transaction():
                table = GenerationJob._meta.db_table
                await lock.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE", (job_id,))
                ws = await browser.socket(f"/ws/jobs/{job_id}/")
                snapshot = await receive(ws)
            # The lock is released: the worker goes on, and the socket gets the rest.
            after = await receive_until_final(ws, job_id)
            await ws.close()
        return snapshot, after

    job, before = asyncio.run(first_visit())
    wait_for_step(job["id"], 52)  # the second image is being drawn; events go on while nobody listens
    # The first image is stored by the worker's store thread while the second is drawn: wait until it is announced
    # (its row commits a moment before its job.image is numbered, and the snapshot reads the row).
    wait_until(lambda: "job.image" in announced(job["id"]), timeout=60, message="image 0")
    snapshot, after = asyncio.run(second_visit(job["id"]))

    (state,) = snapshot["jobs"]
    assert state["job"] == job["id"] and state["status"] == "running" and state["total"] == 100
    assert state["seq"] > before[-1]["seq"] and state["step"] >= 52, "the snapshot reflects what was missed"
    assert [image["index"] for image in state["images"]] == [0]
    assert [event["image"]["index"] for event in after if event["type"] == "job.image"] == [1]
    # The rest continues exactly where the snapshot stands: no gap, no repeat.
    assert [event["seq"] for event in after] == list(range(state["seq"] + 1, state["seq"] + 1 + len(after)))
    assert after[-1]["type"] == "job.succeeded" and after[-1]["seq"] == final_seq(job["id"])
    assert all(event["step"] > state["step"] for event in after if event["type"] == "job.progress")
    finished = GenerationJob.objects.get(pk=job["id"])
    assert (finished.status, finished.progress_step, finished.images.count()) == (JobStatus.SUCCEEDED, 100, 2)
    assert {image["id"] for image in after[-1]["images"]} == {str(image.uuid) for image in finished.images.all()}


def test_the_server_refuses_anonymous_foreign_and_other_users_sockets(daphne, user, other_user):
    browser, owner = Browser(daphne, user), Browser(daphne, other_user)
    theirs = GenerationJobFactory(owner=other_user)

    async def refused(opening) -> int:
        """A foreign origin fails the handshake (its HTTP status); the consumer's refusals are close codes."""
        try:
            async with opening as ws:
                await asyncio.wait_for(ws.wait_closed(), EVENT_TIMEOUT)
                return ws.close_code
        except InvalidStatus as error:
            return error.response.status_code

    async def run():
        return [
            await refused(browser.socket("/ws/jobs/", cookies=False)),
            await refused(browser.socket("/ws/jobs/", origin="https://evil.example")),
            await refused(browser.socket(f"/ws/jobs/{theirs.pk}/")),
            await refused(browser.socket("/ws/jobs/999999999/")),
        ]

    assert asyncio.run(run()) == [4401, 403, 4404, 4404]  # as README's WebSockets section promises

    async def own():
        async with owner.socket(f"/ws/jobs/{theirs.pk}/") as ws:
            return await receive(ws)

    assert asyncio.run(own())["jobs"][0]["job"] == theirs.pk
