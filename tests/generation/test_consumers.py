"""The job events socket, through the whole ASGI stack (origin check, session and token auth, router).

Events go out through the real publisher and the Redis channel layer, as in production.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from accounts.services import create_api_key, revoke_api_key
from accounts.tokens import AccessToken
from generation import events
from generation.models import GenerationJob, JobStatus
from generation.selectors import event_sequences
from generation.services import submit_job
from zimage.asgi import application

from ..factories import GeneratedImageFactory, GenerationJobFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = "http://testserver"
TIMEOUT = 5


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def socket(
    path: str, user=None, origin: str | None = ORIGIN, request_id: str | None = None
) -> WebsocketCommunicator:
    """A socket as a browser opens it: from our origin, with the session cookie once logged in (and the proxy's
    X-Request-ID when `request_id` is given)."""
    headers = []
    if request_id is not None:
        headers.append((b"x-request-id", request_id.encode()))
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if user is not None:
        cookie = await sync_to_async(session_cookie)(user)
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


def publish(job, event_type, **data):
    """Publish through the real background publisher and wait until it has reached the channel layer."""
    job.refresh_from_db()
    events.publish(job, event_type, **data)
    assert events.get_publisher().flush(TIMEOUT)


async def open_socket(communicator: WebsocketCommunicator) -> dict:
    connected, code = await communicator.connect(timeout=TIMEOUT)
    assert connected, f"refused with {code}"
    snapshot = await communicator.receive_json_from(timeout=TIMEOUT)
    assert snapshot["type"] == "snapshot"
    return snapshot


async def closed_with(communicator: WebsocketCommunicator) -> int:
    """The close code of a refused socket. Refusals are accepted, then closed: a close before accept would reach a
    real client as a bare HTTP 403 (test_ws_e2e checks that through daphne)."""
    connected, code = await communicator.connect(timeout=TIMEOUT)
    assert connected, f"refused at the handshake ({code}), so a client sees HTTP 403, not a close code"
    message = await communicator.receive_output(timeout=TIMEOUT)
    assert message["type"] == "websocket.close", message
    # As a server does once the close handshake is done: the consumer then ends, instead of waiting on its
    # channel until the event loop is torn down around it (which once hung a test for its whole timeout).
    await communicator.disconnect(code=message["code"], timeout=TIMEOUT)
    return message["code"]


async def snapshot_of(path: str, user) -> dict:
    """The snapshot a socket of `user`'s on `path` opens with."""
    communicator = await socket(path, user=user)
    snapshot = await open_socket(communicator)
    await communicator.disconnect()
    return snapshot


async def reply_to(user, message: dict) -> dict:
    """The job-list socket's answer to one message of `user`'s, sent after the snapshot."""
    communicator = await socket("/ws/jobs/", user=user)
    await open_socket(communicator)
    await communicator.send_json_to(message)
    received = await communicator.receive_json_from(timeout=TIMEOUT)
    await communicator.disconnect()
    return received


async def receive_until(communicator: WebsocketCommunicator, final_type: str) -> list[dict]:
    received = []
    while not received or received[-1]["type"] != final_type:
        received.append(await communicator.receive_json_from(timeout=TIMEOUT))
    return received


class TestRefused:
    def test_an_anonymous_socket_is_refused_with_4401(self):
        async def run():
            communicator = await socket("/ws/jobs/")
            assert await closed_with(communicator) == 4401

        async_to_sync(run)()

    @pytest.mark.parametrize("origin", ["http://evil.example", None])
    def test_a_foreign_or_missing_origin_is_refused_even_with_a_valid_session(self, user, origin):
        async def run():
            communicator = await socket("/ws/jobs/", user=user, origin=origin)
            connected, _ = await communicator.connect(timeout=TIMEOUT)
            assert not connected

        async_to_sync(run)()

    def test_another_users_job_is_refused_with_4404(self, user, other_user):
        job = GenerationJobFactory(owner=other_user)

        async def run():
            assert await closed_with(await socket(f"/ws/jobs/{job.pk}/", user=user)) == 4404
            assert await closed_with(await socket("/ws/jobs/999999999/", user=user)) == 4404

        async_to_sync(run)()

    def test_an_invalid_token_is_anonymous_even_with_a_valid_session_cookie(self, user):
        async def run():
            communicator = await socket("/ws/jobs/?token=forged", user=user)
            assert await closed_with(communicator) == 4401

        async_to_sync(run)()


class TestSnapshot:
    def test_a_job_socket_first_sends_where_the_job_stands(self, user):
        job = GenerationJobFactory(owner=user, running=True, num_images=2, progress_total=8)
        publish(job, "job.started", total=8)
        GenerationJob.objects.filter(pk=job.pk).update(progress_step=6, images_done=1)
        image = GeneratedImageFactory(job=job)
        publish(job, "job.image", image={"id": str(image.uuid)})

        (entry,) = async_to_sync(snapshot_of)(f"/ws/jobs/{job.pk}/", user)["jobs"]
        assert {key: entry[key] for key in ("job", "status", "step", "total", "percent", "num_images", "seq")} == {
            "job": job.pk,
            "status": "running",
            "step": 6,
            "total": 8,
            "percent": 75,
            "num_images": 2,
            "seq": 2,
        }
        (shown,) = entry["images"]
        assert shown["id"] == str(image.uuid) and shown["index"] == 0
        assert shown["url"].startswith("/media/files/") and shown["thumbnail_url"].startswith("/media/files/")

    def test_the_user_snapshot_holds_unfinished_jobs_and_the_latest_twenty(self, user, other_user):
        waiting = GenerationJobFactory(owner=user)
        finished = [GenerationJobFactory(owner=user, succeeded=True) for _ in range(25)]
        GenerationJobFactory(owner=other_user)

        shown = [entry["job"] for entry in async_to_sync(snapshot_of)("/ws/jobs/", user)["jobs"]]
        assert shown == [job.pk for job in reversed(finished[-20:])] + [waiting.pk]

    def test_a_failed_job_shows_its_error(self, user):
        job = GenerationJobFactory(owner=user, failed=True, last_error="Timed out after 120 s.")

        (entry,) = async_to_sync(snapshot_of)(f"/ws/jobs/{job.pk}/", user)["jobs"]
        assert (entry["status"], entry["error"], entry["seq"]) == ("failed", "Timed out after 120 s.", 0)


class TestEvents:
    def test_events_follow_the_snapshot_in_order_each_with_job_status_and_seq(self, user):
        job = GenerationJobFactory(owner=user)

        async def run():
            communicator = await socket("/ws/jobs/", user=user)
            await open_socket(communicator)
            for step in (1, 2, 3, 4):
                events.publish(job, "job.progress", step=step, total=4, percent=25 * step, eta_seconds=1.0)
            events.publish(job, "job.succeeded", images=[])
            received = await receive_until(communicator, "job.succeeded")
            await communicator.disconnect()
            return received

        GenerationJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
        job.refresh_from_db()
        received = async_to_sync(run)()
        assert [(e["type"], e.get("step")) for e in received] == [
            ("job.progress", 1),
            ("job.progress", 2),
            ("job.progress", 3),
            ("job.progress", 4),
            ("job.succeeded", None),
        ]
        assert [e["seq"] for e in received] == [1, 2, 3, 4, 5]
        assert all(e["job"] == job.pk and e["status"] == "running" and "ts" in e for e in received)

    def test_an_event_does_not_wait_for_database_work_on_another_socket(self, user):
        """Daphne runs every socket's database work on one shared thread: a slow query there (held here) must not
        hold up the events of sockets that only forward them."""
        job = GenerationJobFactory(owner=user, running=True)
        database_thread_free = threading.Event()

        async def run():
            communicator = await socket("/ws/jobs/", user=user)
            await open_socket(communicator)
            slow_query = asyncio.ensure_future(sync_to_async(database_thread_free.wait)(TIMEOUT))
            try:
                events.publish(job, "job.progress", step=1, total=4, percent=25, eta_seconds=3.0)
                return await communicator.receive_json_from(timeout=2)
            finally:
                database_thread_free.set()
                await slow_query
                await communicator.disconnect()

        received = async_to_sync(run)()
        assert (received["type"], received["step"]) == ("job.progress", 1)

    def test_events_already_in_the_snapshot_are_not_sent_again(self, user):
        job = GenerationJobFactory(owner=user, running=True)
        publish(job, "job.started", total=4)
        publish(job, "job.progress", step=1, total=4, percent=25, eta_seconds=3.0)

        async def run():
            communicator = await socket(f"/ws/jobs/{job.pk}/", user=user)
            snapshot = await open_socket(communicator)
            layer = get_channel_layer()
            # A late copy of an event the snapshot already covers, then a new one.
            late = {"type": "job.progress", "job": job.pk, "owner": user.pk, "status": "running", "seq": 2}
            await layer.group_send(events.job_group(job.pk), {"type": "job.event", "event": late})
            events.publish(job, "job.progress", step=2, total=4, percent=50, eta_seconds=2.0)
            received = await communicator.receive_json_from(timeout=TIMEOUT)
            assert await communicator.receive_nothing(timeout=0.3)
            await communicator.disconnect()
            return snapshot, received

        snapshot, received = async_to_sync(run)()
        assert snapshot["jobs"][0]["seq"] == 2
        assert (received["type"], received["step"], received["seq"]) == ("job.progress", 2, 3)

    def test_a_user_never_receives_another_users_events(self, user, other_user):
        mine, theirs = GenerationJobFactory(owner=user), GenerationJobFactory(owner=other_user)

        async def run():
            my_socket, their_socket = await socket("/ws/jobs/", user=user), await socket("/ws/jobs/", user=other_user)
            my_snapshot, their_snapshot = await open_socket(my_socket), await open_socket(their_socket)
            events.publish(theirs, "job.started", total=4)
            events.publish(mine, "job.started", total=4)
            events.publish(theirs, "job.canceled", images_done=0)
            events.publish(mine, "job.canceled", images_done=0)
            mine_received = await receive_until(my_socket, "job.canceled")
            theirs_received = await receive_until(their_socket, "job.canceled")
            assert await my_socket.receive_nothing(timeout=0.3)
            assert await their_socket.receive_nothing(timeout=0.3)
            await my_socket.disconnect()
            await their_socket.disconnect()
            return my_snapshot, their_snapshot, mine_received, theirs_received

        my_snapshot, their_snapshot, mine_received, theirs_received = async_to_sync(run)()
        assert [entry["job"] for entry in my_snapshot["jobs"]] == [mine.pk]
        assert [entry["job"] for entry in their_snapshot["jobs"]] == [theirs.pk]
        assert {event["job"] for event in mine_received} == {mine.pk}
        assert {event["job"] for event in theirs_received} == {theirs.pk}

    def test_a_job_socket_streams_only_that_job(self, user):
        followed, other = GenerationJobFactory(owner=user), GenerationJobFactory(owner=user)

        async def run():
            communicator = await socket(f"/ws/jobs/{followed.pk}/", user=user)
            await open_socket(communicator)
            events.publish(other, "job.started", total=4)
            events.publish(followed, "job.started", total=4)
            received = await communicator.receive_json_from(timeout=TIMEOUT)
            assert await communicator.receive_nothing(timeout=0.3)
            await communicator.disconnect()
            return received

        assert async_to_sync(run)()["job"] == followed.pk

    def test_previews_0_strips_the_preview_from_progress_events(self, user):
        job = GenerationJobFactory(owner=user, running=True)
        preview = "data:image/webp;base64,UklGRg=="

        async def run():
            plain, with_previews = await socket("/ws/jobs/?previews=0", user=user), await socket("/ws/jobs/", user=user)
            await open_socket(plain)
            await open_socket(with_previews)
            events.publish(job, "job.progress", step=2, total=4, percent=50, eta_seconds=1.0, preview=preview)
            received = (await plain.receive_json_from(TIMEOUT), await with_previews.receive_json_from(TIMEOUT))
            await plain.disconnect()
            await with_previews.disconnect()
            return received

        plain_event, full_event = async_to_sync(run)()
        assert "preview" not in plain_event and plain_event["step"] == 2
        assert full_event["preview"] == preview


class TestNewJobs:
    def test_a_new_job_is_announced_on_its_owners_job_list(self, user):
        async def run():
            communicator = await socket("/ws/jobs/", user=user)
            await open_socket(communicator)
            job = await sync_to_async(submit_job)(user=user, prompt="a red sneaker", production_path="fashion")
            received = await receive_until(communicator, "job.queued")
            await communicator.disconnect()
            return job, received

        job, received = async_to_sync(run)()
        assert (received[-1]["job"], received[-1]["status"], received[-1]["seq"]) == (job.pk, "queued", 1)

    def test_a_new_job_that_nobody_watches_is_not_published(self, user):
        job = submit_job(user=user, prompt="a red sneaker", production_path="fashion")
        assert events.get_publisher().flush()
        assert event_sequences([job.pk]) == {job.pk: 0}


class TestCancel:
    def test_the_socket_cancels_the_users_own_job(self, user):
        job = GenerationJobFactory(owner=user)

        received = async_to_sync(reply_to)(user, {"type": "job.cancel", "job": job.pk})
        assert (received["type"], received["job"], received["status"]) == ("job.canceled", job.pk, "canceled")
        assert GenerationJob.objects.get(pk=job.pk).status == JobStatus.CANCELED

    def test_another_users_job_is_not_found_and_not_canceled(self, user, other_user):
        theirs = GenerationJobFactory(owner=other_user)

        reply = async_to_sync(reply_to)(user, {"type": "job.cancel", "job": theirs.pk})
        assert reply == {"type": "error", "code": "not_found", "job": theirs.pk}
        assert GenerationJob.objects.get(pk=theirs.pk).status == JobStatus.QUEUED

    @pytest.mark.parametrize(
        "message",
        [{"type": "job.delete", "job": 1}, {"type": "job.cancel", "job": "1"}, {"type": "job.cancel"}, [], "{not json"],
    )
    def test_a_malformed_message_gets_an_error_and_the_socket_stays_open(self, user, message):
        job = GenerationJobFactory(owner=user)

        async def run():
            communicator = await socket(f"/ws/jobs/{job.pk}/", user=user)
            await open_socket(communicator)
            await communicator.send_to(text_data=message if isinstance(message, str) else json.dumps(message))
            error = await communicator.receive_json_from(timeout=TIMEOUT)
            events.publish(job, "job.started", total=4)
            after = await communicator.receive_json_from(timeout=TIMEOUT)
            await communicator.disconnect()
            return error, after

        error, after = async_to_sync(run)()
        assert (error["type"], error["code"]) == ("error", "invalid")
        assert after["type"] == "job.started"

    @pytest.mark.parametrize(
        ("language", "header", "expected"),
        [
            ("ko", b"en", "알 수 없는 메시지 유형입니다."),
            ("", b"ko-KR,ko;q=0.9", "알 수 없는 메시지 유형입니다."),
            ("", b"", "Unknown message type."),
        ],
        ids=["profile", "accept-language", "default"],
    )
    def test_an_error_is_in_the_users_language_and_keeps_its_code(self, user, language, header, expected):
        """As on the website: the user's saved language, else the browser's; the code stays `invalid`."""
        user.language = language
        user.save(update_fields=["language"])

        async def run():
            communicator = await socket("/ws/jobs/", user=user)
            communicator.scope["headers"].append((b"accept-language", header))
            await open_socket(communicator)
            await communicator.send_json_to({"type": "job.delete"})
            error = await communicator.receive_json_from(timeout=TIMEOUT)
            await communicator.disconnect()
            return error

        assert async_to_sync(run)() == {"type": "error", "code": "invalid", "message": expected}


def api_key(user) -> str:
    return create_api_key(user=user, name="socket")[1]


def jwt_access_token(user) -> str:
    return str(AccessToken.for_user(user))


class TestTokenAuth:
    """`?token=` is checked by the API's own authentication classes: personal API keys and JWT access tokens."""

    @pytest.mark.parametrize("make_token", [api_key, jwt_access_token])
    def test_an_api_token_in_the_query_string_authenticates_the_socket(self, user, make_token):
        job = GenerationJobFactory(owner=user)
        token = make_token(user)

        async def run():
            communicator = await socket(f"/ws/jobs/?token={token}")
            snapshot = await open_socket(communicator)
            await communicator.disconnect()
            return snapshot

        assert [entry["job"] for entry in async_to_sync(run)()["jobs"]] == [job.pk]

    def test_an_api_client_without_an_origin_header_connects_with_its_token(self, user):
        token = api_key(user)

        async def run():
            communicator = await socket(f"/ws/jobs/?token={token}", origin=None)
            await open_socket(communicator)
            await communicator.disconnect()

        async_to_sync(run)()

    def test_a_token_socket_that_sends_a_foreign_origin_is_still_refused(self, user):
        token = api_key(user)

        async def run():
            communicator = await socket(f"/ws/jobs/?token={token}", origin="http://evil.example")
            connected, _ = await communicator.connect(timeout=TIMEOUT)
            assert not connected

        async_to_sync(run)()

    def test_a_token_only_opens_its_own_users_jobs(self, user, other_user):
        theirs = GenerationJobFactory(owner=other_user)
        token = api_key(user)

        async def run():
            communicator = await socket(f"/ws/jobs/{theirs.pk}/?token={token}")
            assert await closed_with(communicator) == 4404

        async_to_sync(run)()

    @pytest.mark.parametrize("make_token", [api_key, jwt_access_token])
    def test_a_token_of_a_deactivated_user_is_refused(self, make_token):
        user = UserFactory()
        token = make_token(user)
        user.is_active = False
        user.save()

        async def run():
            communicator = await socket(f"/ws/jobs/?token={token}")
            assert await closed_with(communicator) == 4401

        async_to_sync(run)()

    def test_a_revoked_api_key_is_refused(self, user):
        key, token = create_api_key(user=user, name="socket")
        revoke_api_key(key=key)

        async def run():
            communicator = await socket(f"/ws/jobs/?token={token}")
            assert await closed_with(communicator) == 4401

        async_to_sync(run)()


class TestRequestId:
    def test_every_line_a_socket_logs_carries_the_proxys_request_id(self, user, console, caplog):
        caplog.set_level(logging.INFO, logger="generation.consumers")
        job = GenerationJobFactory(owner=user)

        async def run():
            communicator = await socket("/ws/jobs/", user=user, request_id="ws-trace-7")
            await open_socket(communicator)
            await communicator.send_json_to({"type": "job.cancel", "job": job.pk})
            await receive_until(communicator, "job.canceled")
            await communicator.disconnect()

        async_to_sync(run)()
        lines = [json.loads(line) for line in console.getvalue().splitlines() if line.startswith("{")]
        mine = [line for line in lines if line["name"] == "generation.consumers"]
        assert [line["message"] for line in mine] == [
            "websocket opened",
            "job canceled over the websocket",
            "websocket closed",
        ]
        assert {line["request_id"] for line in mine} == {"ws-trace-7"}

    def test_a_socket_without_one_gets_a_new_id_in_its_handshake_and_on_its_lines(self, user, console, caplog):
        caplog.set_level(logging.INFO, logger="generation.consumers")

        async def run():
            communicator = await socket("/ws/jobs/", user=user, request_id="bad id\nforged line")
            await communicator.send_input({"type": "websocket.connect"})
            accepted = await communicator.receive_output(TIMEOUT)
            await communicator.receive_json_from(TIMEOUT)  # the snapshot
            await communicator.disconnect()
            return accepted

        accepted = async_to_sync(run)()
        assert accepted["type"] == "websocket.accept"
        request_id = dict(accepted["headers"])[b"x-request-id"].decode()
        assert len(request_id) == 32 and int(request_id, 16) >= 0  # the unsafe header was replaced
        lines = [json.loads(line) for line in console.getvalue().splitlines() if line.startswith("{")]
        opened = [line for line in lines if line["message"] == "websocket opened"]
        assert [line["request_id"] for line in opened] == [request_id]
