"""Worker identity and liveness, in one place: who a worker is, its heartbeat in Redis, whether a claimer is dead.

Each pool process loads the diffusion backend once and heart-beats to `zimage:worker:<host>:<pid>` (60 s TTL);
/readyz, the website's "tiny pipeline" notice, the admin's workers list and /metrics read `online_workers()`.
The Celery signal handlers below are connected in `GenerationConfig.ready()`.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
from datetime import timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone

from core.redis_clients import shared_redis

if TYPE_CHECKING:
    import redis
    from celery import Task

    from .engine.diffusion import DiffusionBackend
    from .models import GenerationJob

logger = logging.getLogger(__name__)

HEARTBEAT_KEY_PREFIX = "zimage:worker:"
HEARTBEAT_TTL = 60
HEARTBEAT_EVERY = 10

_state: dict[str, object] = {"backend": "loading", "job": None}
_stop = threading.Event()


def worker_identity() -> str:
    """`host:pid`: what a job's `worker_id` records and what the heartbeat key ends with."""
    return f"{socket.gethostname()}:{os.getpid()}"


def heartbeat_key() -> str:
    return f"{HEARTBEAT_KEY_PREFIX}{worker_identity()}"


def online_workers() -> list[dict[str, Any]]:
    """The heartbeats of the worker processes alive in the last minute."""
    client = shared_redis(timeout=1)
    keys = list(client.scan_iter(f"{HEARTBEAT_KEY_PREFIX}*", count=100))
    return [json.loads(value) for value in client.mget(keys) if value] if keys else []


def claimer_is_dead(job: GenerationJob) -> bool:
    """Whether the worker that claimed this job is gone: a local pid that no longer exists, or no heartbeat."""
    host, _, pid = job.worker_id.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
    stale_before = timezone.now() - timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT)
    return job.heartbeat_at is None or job.heartbeat_at < stale_before


_cuda: dict[str, ModuleType] = {}  # {"torch": module} once warm_up found the loaded backend running on CUDA


def watch_cuda() -> None:
    """Called once the backend is loaded, so torch (if it uses it) is fully imported; never imports torch itself.

    The heartbeat thread must not look at sys.modules earlier: mid-import, torch has no `cuda` yet.
    """
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        _cuda["torch"] = torch


def gpu_memory_mb() -> float | None:
    """GPU memory this process holds (what nvidia-smi shows for it); None without CUDA."""
    torch = _cuda.get("torch")
    return None if torch is None else round(torch.cuda.memory_reserved() / 2**20, 1)


def resident_models() -> list[dict[str, Any]]:
    """The models this process holds loaded (its model pool), least recently used first; never imports torch."""
    pool = sys.modules.get("generation.engine.diffusion.pool")
    return (pool.resident_models() or []) if pool is not None else []


def _beat_once(client: redis.Redis) -> None:
    payload = {"host": socket.gethostname(), "pid": os.getpid(), "ts": time.time(), **_state}
    payload["models"] = resident_models()
    if (gpu := gpu_memory_mb()) is not None:
        payload["gpu_memory_mb"] = gpu
    client.set(heartbeat_key(), json.dumps(payload), ex=HEARTBEAT_TTL)


def _heartbeat_loop() -> None:
    import redis

    client = shared_redis()
    while not _stop.is_set():
        try:
            _beat_once(client)
        except redis.RedisError:
            logger.warning("worker heartbeat could not reach Redis")
        _stop.wait(HEARTBEAT_EVERY)


def warm_up(**_: object) -> None:
    from django.db import connections

    from .engine.diffusion import get_backend

    connections.close_all()  # never share the parent's database sockets after fork
    threading.Thread(target=_heartbeat_loop, name="zimage-heartbeat", daemon=True).start()
    backend = get_backend()
    watch_cuda()
    warm_up_models(backend)
    _state["backend"] = backend.name
    logger.info("diffusion backend ready", extra={"backend": backend.name})


def warm_up_models(backend: DiffusionBackend) -> None:
    """With torch.compile on, draw one image per loaded model now, so the first user's job is not the one
    that waits for compilation (fastpaths.py)."""
    from .engine.diffusion import fastpaths

    if fastpaths.warm_up_wanted():
        _state["backend"] = "warming up"
        fastpaths.warm_up(backend, models=[entry["model"] for entry in resident_models()])


def stop_heartbeat(**_: object) -> None:
    _stop.set()


def keep_database_connections(**_: object) -> None:
    """`worker_process_init`: each task's edge keeps Django's connection rules instead of Celery's.

    Celery's Django fixup closes every database connection before and after each task (Celery 5.6 reverted
    honouring CONN_MAX_AGE, celery#9824), so every job opened a new PostgreSQL session on its claim's path: a
    connect and authentication round trip, and a backend process forked by the database, per job. With the fixup's
    task handlers off, `close_database_if_obsolete` runs before each task, as Django's request boundary does."""
    from celery import current_app
    from celery.fixups.django import DjangoFixup
    from celery.signals import task_postrun, task_prerun

    for fixup in getattr(current_app, "_fixups", ()):
        if isinstance(fixup, DjangoFixup):
            task_prerun.disconnect(fixup.worker_fixup.on_task_prerun)
            task_postrun.disconnect(fixup.worker_fixup.on_task_postrun)


def close_database_if_obsolete(task: Task | None = None, **_: object) -> None:
    """`task_prerun`: a connection past CONN_MAX_AGE, or broken, is closed (the next query opens a new one); with
    CONN_HEALTH_CHECKS a kept one is pinged before its first use in the task. Not for a task run eagerly, inside
    its caller's transaction."""
    from django.db import close_old_connections

    if task is not None and not getattr(task.request, "is_eager", False):
        close_old_connections()


def remember_job(task: Task | None = None, args: tuple[Any, ...] | None = None, **_: object) -> None:
    if task is not None and task.name == "generation.run_job" and args:
        _state["job"] = args[0]


def forget_job(task: Task | None = None, **_: object) -> None:
    if task is not None and task.name == "generation.run_job":
        _state["job"] = None
