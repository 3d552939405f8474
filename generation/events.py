"""Job events to the Channels layer, published from a background thread so callers never block.

Every event carries the job id, its status and a per-job sequence number (a Redis counter, so it
grows across processes) that lets clients drop stale or repeated events. A dead channel layer only
costs log lines: publishing never raises into a job.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

EVENT_TYPES = (
    "job.queued",
    "job.started",
    "job.progress",
    "job.image",
    "job.succeeded",
    "job.failed",
    "job.canceled",
)
MAX_PENDING_EVENTS = 10_000


def user_group(user_id: int) -> str:
    return f"jobs.user.{user_id}"


def job_group(job_id: int) -> str:
    return f"jobs.job.{job_id}"


def sequence_key(job_id: int) -> str:
    return f"zimage:job:{job_id}:seq"


class EventPublisher:
    """One daemon thread per process running its own event loop, with pooled Redis connections."""

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._loop = asyncio.new_event_loop()
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="zimage-events", daemon=True)
        self._thread.start()

    def submit(self, event: dict[str, Any]) -> bool:
        with self._lock:
            if self._pending >= MAX_PENDING_EVENTS:
                logger.warning("event queue full, dropping event", extra={"job_id": event.get("job")})
                return False
            self._pending += 1
        self._loop.call_soon_threadsafe(self._queue.put_nowait, event)
        return True

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far has been sent (tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            time.sleep(0.005)
        return not self._pending

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._consume())

    async def _consume(self) -> None:
        import redis.asyncio as aioredis
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        client = aioredis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        while True:
            event = await self._queue.get()
            try:
                await self._send(layer, client, event)
            except Exception:
                logger.warning(
                    "could not publish job event",
                    exc_info=True,
                    extra={"job_id": event.get("job"), "event": event["type"]},
                )
            finally:
                with self._lock:
                    self._pending -= 1

    async def _send(self, layer: Any, client: Any, event: dict[str, Any]) -> None:
        key = sequence_key(event["job"])
        event["seq"] = int(await client.incr(key))
        await client.expire(key, 7 * 24 * 3600)
        message = {"type": "job.event", "event": event}
        await layer.group_send(job_group(event["job"]), message)
        await layer.group_send(user_group(event["owner"]), message)


_publisher: EventPublisher | None = None
_lock = threading.Lock()


def get_publisher() -> EventPublisher:
    """The process's publisher; a forked child (Celery prefork) gets its own thread."""
    global _publisher
    with _lock:
        if _publisher is None or _publisher._pid != os.getpid():
            _publisher = EventPublisher()
        return _publisher


def publish(job: Any, event_type: str, **data: Any) -> bool:
    """Queue one event for the job's sockets; False (and a log line) when it could not even be queued.

    `ts` is the publish time (epoch seconds) for latency measurements; `seq` is added on send.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {event_type!r}.")
    event = {
        "type": event_type,
        "job": job.pk,
        "owner": job.owner_id,
        "status": job.status,
        "ts": time.time(),
        **data,
    }
    try:
        return get_publisher().submit(event)
    except Exception:  # a broken publisher (closed loop, no thread) must never fail the job
        logger.warning("could not queue job event", exc_info=True, extra={"job_id": job.pk, "event": event_type})
        return False
