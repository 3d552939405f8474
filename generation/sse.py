"""Server-Sent Events: a job's events, or all of the caller's, as `text/event-stream` (served by daphne).

`GET /api/v1/jobs/{id}/events` and `GET /api/v1/events` send what the WebSockets send, one event per message:
`id:` is the event's number, `event:` its type, `data:` the WebSocket's JSON. A stream opens with the snapshot
(as the WebSocket's) unless the client resumes with `Last-Event-ID`: then it gets exactly the events after that
number from the short history generation.events keeps (the snapshot when the history no longer reaches back).
The job stream's numbers are the job's `seq`; the account stream's are the account's `account_seq`, since one
Last-Event-ID has to name a place in one sequence. A comment every HEARTBEAT_SECONDS keeps proxies from closing
an idle stream; the job stream ends after the job's final event.

The views are DRF views, so a stream is authenticated (API key, JWT, session), throttled and refused (401, 404,
400 naming `Last-Event-ID`) as any API call; only then is the stream handed to the ASGI server. Under WSGI (the
test client, a gunicorn that was sent these paths by mistake) the answer is the opening part alone, then the end.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import connection
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from core.openapi import error_response
from core.redis_clients import shared_redis

from . import events, selectors
from .models import FINAL_STATUSES
from .ops import monitoring

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0  # settings.SSE_HEARTBEAT_SECONDS, when set, overrides it (the tests shorten it)
RETRY_MILLISECONDS = 3000  # how long a browser's EventSource waits before it reconnects
LAST_EVENT_ID = "Last-Event-ID"
MAX_EVENT_ID_DIGITS = 18  # fits a PostgreSQL bigint and a Redis counter


def heartbeat_seconds() -> float:
    return float(getattr(settings, "SSE_HEARTBEAT_SECONDS", None) or HEARTBEAT_SECONDS)


def last_event_id(request: Request) -> int | None:
    """The number the client last received, from the `Last-Event-ID` header; a 400 naming it when it is not one."""
    raw = request.headers.get(LAST_EVENT_ID)
    if raw is None or not raw.strip():
        return None
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit() and len(raw) <= MAX_EVENT_ID_DIGITS):
        raise ValidationError({LAST_EVENT_ID: [_("Must be the id of an event this stream sent (a whole number).")]})
    return int(raw)


def message(event_id: int, event_type: str, data: dict[str, Any]) -> bytes:
    return f"id: {event_id}\nevent: {event_type}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class Cursor:
    """One stream's place: what it has sent, what it still owes, and when it is done.

    Events reach a stream through the channel layer, which may reorder two processes' events or drop some (over
    its capacity); a number that skips ahead is filled from the history first, so the client sees every event,
    in order, once.
    """

    def __init__(self, user: Any, *, job_id: int | None, resume_after: int | None):
        self.user = user
        self.job_id = job_id
        self.resume_after = resume_after
        self.sent = 0  # the last number sent
        self.reflected: dict[int, int] = {}  # account stream: each job's seq that its snapshot already shows
        self.done = False

    @property
    def group(self) -> str:
        return events.user_group(self.user.pk) if self.job_id is None else events.job_group(self.job_id)

    def number(self, event: dict[str, Any]) -> int:
        return int(event.get("seq" if self.job_id is not None else "account_seq") or 0)

    def history(self) -> tuple[int, list[dict[str, Any]]]:
        if self.job_id is not None:
            counter, entries = events.job_history(self.job_id)
        else:
            counter, entries = events.account_history(self.user.pk)
        return counter, [entry.event for entry in entries]

    # --- the opening: the snapshot, or the events after Last-Event-ID ---

    def opening(self) -> list[bytes]:
        """Database and Redis reads: run in a thread."""
        if self.resume_after is not None:
            resumed = self._resume(self.resume_after)
            if resumed is not None:
                return resumed
        return self.snapshot()

    def _resume(self, after: int) -> list[bytes] | None:
        """The events after `after`, or None when the history does not reach back to them (the snapshot then)."""
        counter, history = self.history()
        if after > counter:
            return None  # a number this stream never gave out, or one from before its counter expired
        missed = [event for event in history if self.number(event) > after]
        if after < counter and (not missed or self.number(missed[0]) != after + 1):
            return None
        self.sent = after
        if not missed and self.job_id is not None:
            last = next((event for event in history if self.number(event) == after), None)
            if last is None and after > 0:
                return None  # cannot tell whether that was the final event: the snapshot tells
            self.done = last is not None and last["type"] in events.FINAL_EVENT_TYPES
            finished = selectors.jobs_for(self.user).filter(pk=self.job_id, status__in=FINAL_STATUSES)
            if not self.done and finished.exists():
                return None  # finished without a final event on record: the snapshot says how, and ends the stream
        return [chunk for event in missed for chunk in self.take(event)]

    def snapshot(self) -> list[bytes]:
        """As the WebSocket's: the counters are read before the rows, so the rows show every event up to them."""
        account = events.account_sequence(self.user.pk) if self.job_id is None else 0
        jobs = selectors.job_snapshot(self.user, job_id=self.job_id)
        if self.job_id is not None:
            (job,) = jobs
            self.sent = job["seq"]
            self.done = job["status"] in FINAL_STATUSES
        else:
            self.sent = account
            self.reflected = {job["job"]: job["seq"] for job in jobs}
        return [message(self.sent, "snapshot", {"type": "snapshot", "jobs": jobs})]

    # --- live events ---

    def take(self, event: dict[str, Any]) -> list[bytes]:
        """The messages `event` makes: none if already sent, the ones it skipped first."""
        number = self.number(event)
        if self.done or number <= self.sent:
            return []
        self.sent = number
        if event["seq"] <= self.reflected.get(event["job"], 0):
            return []  # numbered before the snapshot's rows were read: the snapshot shows it
        self.done = self.job_id is not None and event["type"] in events.FINAL_EVENT_TYPES
        return [message(number, event["type"], event)]

    def gap(self, event: dict[str, Any]) -> bool:
        return not self.done and self.number(event) > self.sent + 1

    def fill(self, upto: int) -> list[bytes]:
        """The recorded events between what was sent and `upto` (Redis reads: run in a thread)."""
        _counter, history = self.history()
        chunks: list[bytes] = []
        for event in history:
            if self.sent < self.number(event) < upto:
                chunks += self.take(event)
        return chunks


async def _count_list_watcher(user_id: int, change: int) -> None:
    """An account stream hears new jobs as a job-list socket does: count it where submit looks (monitoring)."""

    def move() -> None:
        key = monitoring.user_sockets_key(user_id)
        try:
            pipe = shared_redis(timeout=1).pipeline(transaction=False)
            pipe.incrby(key, change)
            pipe.expire(key, monitoring.USER_SOCKETS_TTL)
            pipe.execute()
        except Exception:  # a Redis that is down costs new-job announcements, never the stream
            logger.warning("could not count an event stream: Redis is unreachable")

    await sync_to_async(move, thread_sensitive=False)()


async def stream(cursor: Cursor) -> AsyncIterator[bytes]:
    """Subscribe, send the opening, then every event (and a heartbeat comment when idle) until the job ends."""
    layer = get_channel_layer()
    assert layer is not None
    channel = await layer.new_channel()
    # Join before the opening is read: an event sent in between waits in the channel, then is dropped if stale.
    await layer.group_add(cursor.group, channel)
    if cursor.job_id is None:
        await _count_list_watcher(cursor.user.pk, 1)
    receiving: asyncio.Future[Any] | None = None
    try:
        yield f"retry: {RETRY_MILLISECONDS}\n\n".encode()
        for chunk in await database_sync_to_async(cursor.opening)():
            yield chunk
        interval = heartbeat_seconds()
        while not cursor.done:
            receiving = receiving or asyncio.ensure_future(layer.receive(channel))
            finished, _pending = await asyncio.wait({receiving}, timeout=interval)
            if not finished:
                yield b": heartbeat\n\n"
                continue
            event = receiving.result()["event"]
            receiving = None
            if cursor.gap(event):
                for chunk in await sync_to_async(cursor.fill, thread_sensitive=False)(cursor.number(event)):
                    yield chunk
            for chunk in cursor.take(event):
                yield chunk
    finally:
        if receiving is not None:
            receiving.cancel()
        await layer.group_discard(cursor.group, channel)
        if cursor.job_id is None:
            await _count_list_watcher(cursor.user.pk, -1)


def _opening_only(cursor: Cursor) -> Iterator[bytes]:
    yield f"retry: {RETRY_MILLISECONDS}\n\n".encode()
    yield from cursor.opening()
    yield b": this server does not hold event streams open; the ASGI server (daphne) does\n\n"


def event_stream_response(request: Request, cursor: Cursor) -> StreamingHttpResponse:
    if isinstance(request._request, ASGIRequest):
        if not connection.in_atomic_block:
            connection.close()  # the stream may last hours: give the pooled connection back now
        content: Any = stream(cursor)
    else:
        content = _opening_only(cursor)
    response = StreamingHttpResponse(content, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


class JSONErrors(BaseContentNegotiation):
    """Errors are JSON whatever the Accept header asks (an EventSource asks for text/event-stream only)."""

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        return renderers[0], renderers[0].media_type

    def select_parser(self, request: Any, parsers: Any) -> Any:
        return parsers[0] if parsers else None


STREAM_DESCRIPTION = (
    "`text/event-stream`. Each message: `id:` (the event's number), `event:` (its type: `snapshot`, `job.queued`, "
    "`job.started`, `job.progress`, `job.image`, `job.succeeded`, `job.failed`, `job.canceled`) and `data:` (the "
    "WebSocket's JSON for it). Comment lines (`: heartbeat`) every 15 s keep it open."
)
STREAM_EXAMPLE = (
    "retry: 3000\n\n"
    'id: 2\nevent: snapshot\ndata: {"type":"snapshot","jobs":[{"job":42,"status":"running","step":3,"seq":2}]}\n\n'
    'id: 3\nevent: job.progress\ndata: {"type":"job.progress","job":42,"status":"running","step":4,"total":12,'
    '"percent":33,"eta_seconds":2.1,"seq":3,"account_seq":17}\n\n'
)
RESUME_PARAMETER = OpenApiParameter(
    LAST_EVENT_ID,
    OpenApiTypes.INT,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Resume after this event (browsers send it when they reconnect): no snapshot, then exactly the "
    "events after it; the snapshot when they are no longer kept. Not a whole number: 400.",
)


def stream_schema(summary: str, description: str) -> Any:
    return extend_schema(
        summary=summary,
        description=description,
        tags=["jobs"],
        parameters=[RESUME_PARAMETER],
        responses={
            # The schema is each message's `data` (what stream readers, schemathesis included, check it against).
            (200, "text/event-stream"): OpenApiResponse(
                OpenApiTypes.OBJECT,
                description=STREAM_DESCRIPTION,
                examples=[OpenApiExample("A running job", value=STREAM_EXAMPLE)],
            ),
            400: error_response(400),
        },
    )


class EventsViewBase(APIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONErrors


class JobEventsView(EventsViewBase):
    @stream_schema(
        "A job's events as Server-Sent Events",
        "The snapshot, then each of the job's events until its final one (`job.succeeded`, `job.failed` or "
        "`job.canceled`), after which the stream ends. `id:` is the event's `seq`.",
    )
    def get(self, request: Request, pk: int) -> StreamingHttpResponse:
        job_id = get_object_or_404(selectors.jobs_for(request.user), pk=pk).pk
        cursor = Cursor(request.user, job_id=job_id, resume_after=last_event_id(request))
        return event_stream_response(request, cursor)


class AccountEventsView(EventsViewBase):
    @stream_schema(
        "All your jobs' events as Server-Sent Events",
        "The snapshot of your unfinished and latest jobs, then every event of every job of yours, new ones "
        "included, until you close it. `id:` is your account's event number (`account_seq`; each job's own "
        "`seq` is in `data`).",
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        cursor = Cursor(request.user, job_id=None, resume_after=last_event_id(request))
        return event_stream_response(request, cursor)
