"""The hand-off from a job's events to its webhooks: one daemon thread per process.

`notify_job_event` is what generation.events.publish calls for every event, on the worker's job thread: it
only puts the event on a queue (after the caller's transaction commits, so the thread reads what it announces).
The thread looks up the endpoints (cached a moment per job), builds the body and writes the deliveries, then
enqueues them on the `default` queue. A dead database or broker costs log lines here, never the job.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import close_old_connections, connection, transaction

from .models import EVENT_KIND, WebhookEndpoint

logger = logging.getLogger(__name__)

# How long a job's endpoints are reused before they are read again: a progress event every 0.1 s then costs
# one query per job every ENDPOINTS_TTL seconds, not one per event.
ENDPOINTS_TTL = 2.0
MAX_PENDING = 10_000
IDLE_BEFORE_CHECK = 1.0  # seconds


class FanOut:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self._queue: queue.SimpleQueue[
            tuple[int, int, str, Callable[[], dict[str, Any]], Callable[[], int | None], float] | None
        ] = queue.SimpleQueue()
        self._endpoints: dict[int, tuple[float, list[WebhookEndpoint]]] = {}
        self._pending = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="zimage-webhooks", daemon=True)
        self._thread.start()

    def submit(
        self,
        job_id: int,
        owner_id: int,
        event_type: str,
        body: Callable[[], dict[str, Any]],
        seq: Callable[[], int | None] = lambda: None,
    ) -> None:
        with self._lock:
            if self._pending >= MAX_PENDING:
                logger.warning("webhook queue full, dropping event", extra={"job_id": job_id, "event": event_type})
                return
            self._pending += 1
        self._queue.put((job_id, owner_id, event_type, body, seq, time.time()))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every event submitted so far has its deliveries written and enqueued (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            time.sleep(0.005)
        return not self._pending

    def _endpoints_of(self, job_id: int, owner_id: int) -> list[WebhookEndpoint]:
        from .services import endpoints_for_job

        now = time.monotonic()
        cached = self._endpoints.get(job_id)
        if cached is None or cached[0] < now:
            if len(self._endpoints) > 1000:
                self._endpoints = {key: value for key, value in self._endpoints.items() if value[0] >= now}
            cached = (now + ENDPOINTS_TTL, endpoints_for_job(job_id=job_id, owner_id=owner_id))
            self._endpoints[job_id] = cached
        return cached[1]

    def _run(self) -> None:
        from .services import enqueue_deliveries, fan_out_job_event

        idle_since = 0.0
        while True:
            item = self._queue.get()
            if item is None:
                return
            job_id, owner_id, event_type, body, seq, timestamp = item
            try:
                # A dead or old session is replaced after the thread sat idle; not per event, where each check
                # (CONN_HEALTH_CHECKS) would be one more query.
                if time.monotonic() - idle_since > IDLE_BEFORE_CHECK:
                    close_old_connections()
                endpoints = self._endpoints_of(job_id, owner_id)
                ids = fan_out_job_event(
                    job_id=job_id, event_type=event_type, endpoints=endpoints, body=body, seq=seq, timestamp=timestamp
                )
                enqueue_deliveries(ids)
            except Exception:
                logger.warning("could not write webhook deliveries", exc_info=True, extra={"job_id": job_id})
                connection.close()
            finally:
                idle_since = time.monotonic()
                with self._lock:
                    self._pending -= 1


_fan_out: FanOut | None = None
_lock = threading.Lock()


def get_fan_out() -> FanOut:
    """The process's fan-out thread; a forked child (Celery prefork) gets its own."""
    global _fan_out
    with _lock:
        if _fan_out is None or _fan_out.pid != os.getpid():
            _fan_out = FanOut()
        return _fan_out


def notify_job_event(
    *,
    job_id: int,
    owner_id: int,
    event_type: str,
    body: Callable[[], dict[str, Any]],
    seq: Callable[[], int | None] = lambda: None,
) -> None:
    """Queue a job event for its webhooks once the caller's transaction commits; never raises into the job.

    `seq` gives the event's number in the job's one event order (generation.events), waited for on the fan-out
    thread; None when it could not be numbered."""
    if event_type not in EVENT_KIND:
        return
    try:
        fan_out = get_fan_out()
        transaction.on_commit(lambda: fan_out.submit(job_id, owner_id, event_type, body, seq))
    except Exception:
        logger.warning("could not queue a webhook event", exc_info=True, extra={"job_id": job_id})
