"""The worker's store thread: finished images are encoded, uploaded and recorded, and their jobs finished, on one
background thread of the worker process while the pipeline draws the next image or the next job.

One thread keeps everything in submission order (a job's images, then its finish; one job before the next).
Back-pressure: a submit waits while `WORKER_STORE_MAX_WAITING` images are already waiting, so a slow store slows
the pipeline down instead of filling memory (a 1024² image is 3 MB).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from django.conf import settings
from django.db import close_old_connections, connections

logger = logging.getLogger(__name__)

T = TypeVar("T")


class StoreQueue:
    """A one-thread executor with at most `max_waiting` items waiting; `None` runs every item on the caller."""

    def __init__(self, max_waiting: int | None) -> None:
        self._pid = os.getpid()
        self._executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="zimage-store") if max_waiting is not None else None
        )
        self._slots = threading.BoundedSemaphore(max_waiting) if max_waiting else None
        self._last: Future[Any] | None = None

    @property
    def in_background(self) -> bool:
        return self._executor is not None

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run `fn(*args)` after everything submitted before; waits for a free slot first (back-pressure)."""
        if self._executor is None:
            future: Future[T] = Future()
            try:
                future.set_result(fn(*args))
            except BaseException as error:
                future.set_exception(error)
            return future
        if self._slots is not None:
            self._slots.acquire()
        try:
            future = self._executor.submit(_run_item, fn, *args)
        except BaseException:
            if self._slots is not None:
                self._slots.release()
            raise
        if self._slots is not None:
            future.add_done_callback(lambda _: self._slots.release())  # type: ignore[union-attr]
        self._last = future
        return future

    def pending(self) -> bool:
        """Whether anything submitted has not finished yet."""
        return self._last is not None and not self._last.done()

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far has run; False when `timeout` passed first."""
        last = self._last
        if last is None:
            return True
        try:
            last.exception(timeout=timeout)
        except TimeoutError:
            return False
        return True

    def shutdown(self, timeout: float | None = None) -> bool:
        """Drain, close the thread's database connections, stop the thread (worker shutdown, tests)."""
        if self._executor is None:
            return True
        drained = self.drain(timeout)
        if drained:
            self._executor.submit(connections.close_all).result(timeout=timeout)
        self._executor.shutdown(wait=drained)
        return drained


def _run_item(fn: Callable[..., T], *args: Any) -> T:
    # As Celery's Django fixup does around a task, a dead or old connection is replaced, but only after the
    # thread sat idle: with CONN_HEALTH_CHECKS each check is a `SELECT 1`, two more round trips per job.
    now = time.monotonic()
    if now - getattr(_thread, "idle_since", 0.0) > IDLE_BEFORE_CHECK:
        close_old_connections()
    try:
        return fn(*args)
    except BaseException:  # a background item's caller has returned: the log is where its error is seen
        logger.exception("store thread item failed")
        raise
    finally:
        _thread.idle_since = time.monotonic()


IDLE_BEFORE_CHECK = 1.0  # seconds
_thread = threading.local()  # the store thread's own: when it finished its last item


_queue: StoreQueue | None = None
_lock = threading.Lock()


def store_queue() -> StoreQueue:
    """The process's store thread; a forked child (Celery prefork) gets its own."""
    global _queue
    with _lock:
        if _queue is None or _queue._pid != os.getpid():
            _queue = StoreQueue(settings.WORKER_STORE_MAX_WAITING)
        return _queue


INLINE = StoreQueue(None)


def shutdown_store_queue(**_: object) -> None:
    """At worker process shutdown: images already drawn are stored and their jobs finished before it exits."""
    global _queue
    with _lock:
        queue, _queue = _queue, None
    if queue is not None and queue._pid == os.getpid() and not queue.shutdown(timeout=settings.JOB_HEARTBEAT_TIMEOUT):
        logger.warning("store thread still busy at shutdown: the reaper will retry its jobs")
