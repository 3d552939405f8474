"""Job events to the Channels layer, published from a background thread so callers never block.

Every event carries the job id, its status and a per-job sequence number (a Redis counter, so it
grows across processes) that lets clients drop stale or repeated events. A dead channel layer only
costs log lines: publishing never raises into a job.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from django.conf import settings

from webhooks.dispatch import notify_job_event

if TYPE_CHECKING:
    from gallery.models import GeneratedImage

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
SEQUENCE_TTL = 7 * 24 * 3600
# Redis round trips at once for different jobs; a job's own events always wait for its previous one.
MAX_EVENTS_IN_FLIGHT = 32


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
        """Events of one job go out one after the other, in order; different jobs' events in parallel."""
        import redis.asyncio as aioredis
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        client = aioredis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        in_flight = asyncio.Semaphore(MAX_EVENTS_IN_FLIGHT)
        running: set[asyncio.Task[None]] = set()
        last_of_job: dict[int, asyncio.Task[None]] = {}

        def forget(task: asyncio.Task[None], job_id: int) -> None:
            running.discard(task)
            if last_of_job.get(job_id) is task:
                del last_of_job[job_id]

        while True:
            event = await self._queue.get()
            job_id = event["job"]
            task = asyncio.ensure_future(self._deliver(layer, client, event, last_of_job.get(job_id), in_flight))
            running.add(task)
            last_of_job[job_id] = task
            task.add_done_callback(functools.partial(forget, job_id=job_id))

    async def _deliver(
        self,
        layer: Any,
        client: Any,
        event: dict[str, Any],
        previous: asyncio.Task[None] | None,
        in_flight: asyncio.Semaphore,
    ) -> None:
        try:
            if previous is not None:
                await asyncio.wait([previous])
            async with in_flight:
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
        async with client.pipeline(transaction=False) as pipe:
            seq, _ = await pipe.incr(key).expire(key, SEQUENCE_TTL).execute()
        event["seq"] = int(seq)
        to_job_group = not event.pop("new_job", False)
        message = {"type": "job.event", "event": event}
        groups = [user_group(event["owner"]), *([job_group(event["job"])] if to_job_group else [])]
        await asyncio.gather(*(layer.group_send(group, message) for group in groups))


_publisher: EventPublisher | None = None
_lock = threading.Lock()


def get_publisher() -> EventPublisher:
    """The process's publisher; a forked child (Celery prefork) gets its own thread."""
    global _publisher
    with _lock:
        if _publisher is None or _publisher._pid != os.getpid():
            _publisher = EventPublisher()
        return _publisher


def publish(job: Any, event_type: str, *, new_job: bool = False, **data: Any) -> bool:
    """Queue one event for the job's sockets; False (and a log line) when it could not even be queued.

    `ts` is the publish time (epoch seconds) for latency measurements; `seq` is added on send. A `new_job`'s
    event goes to its owner's sockets only: nobody can be watching the job itself before learning its id.
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
    if new_job:
        event["new_job"] = True
    # The job's webhooks: a queue put after the caller's commit; their own thread writes and enqueues deliveries.
    notify_job_event(
        job_id=job.pk, owner_id=job.owner_id, event_type=event_type, body=functools.partial(job_body, job.pk)
    )
    try:
        return get_publisher().submit(event)
    except Exception:  # a broken publisher (closed loop, no thread) must never fail the job
        logger.warning("could not queue job event", exc_info=True, extra={"job_id": job.pk, "event": event_type})
        return False


def job_body(job_id: int) -> dict[str, Any]:
    """The job as GET /api/v1/jobs/{id} answers it: a webhook's `data`."""
    from .api import JobSerializer
    from .models import GenerationJob
    from .selectors import jobs_for

    job = GenerationJob.objects.only("owner_id").get(pk=job_id)
    return dict(JobSerializer(jobs_for(job.owner_id).get(pk=job_id)).data)


def image_event_payload(image: GeneratedImage) -> dict[str, Any]:
    """One finished image as `job.image`, `job.succeeded` and the snapshot describe it."""
    from gallery.selectors import image_urls

    return {
        "id": str(image.uuid),
        "index": image.index,
        "width": image.width,
        "height": image.height,
        "seed": image.seed,
        **image_urls(image),
    }
