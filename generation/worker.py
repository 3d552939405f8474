"""Worker-process wiring: load the diffusion backend once per process, and heart-beat to Redis.

The heartbeat key (`zimage:worker:<host>:<pid>`, 60 s TTL) is what /readyz, the website's
"tiny pipeline" warning and the admin's workers-online list read.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time

from celery.signals import task_postrun, task_prerun, worker_process_init, worker_process_shutdown

logger = logging.getLogger(__name__)

HEARTBEAT_KEY_PREFIX = "zimage:worker:"
HEARTBEAT_TTL = 60
HEARTBEAT_EVERY = 10

_state: dict[str, object] = {"backend": "loading", "job": None}
_stop = threading.Event()


def heartbeat_key() -> str:
    return f"{HEARTBEAT_KEY_PREFIX}{socket.gethostname()}:{os.getpid()}"


_cuda: dict[str, object] = {}  # {"torch": module} once warm_up found the loaded backend running on CUDA


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


def _beat_once(client) -> None:
    payload = {"host": socket.gethostname(), "pid": os.getpid(), "ts": time.time(), **_state}
    if (gpu := gpu_memory_mb()) is not None:
        payload["gpu_memory_mb"] = gpu
    client.set(heartbeat_key(), json.dumps(payload), ex=HEARTBEAT_TTL)


def _heartbeat_loop() -> None:
    import redis

    from core.redis_clients import shared_redis

    client = shared_redis()
    while not _stop.is_set():
        try:
            _beat_once(client)
        except redis.RedisError:
            logger.warning("worker heartbeat could not reach Redis")
        _stop.wait(HEARTBEAT_EVERY)


@worker_process_init.connect
def warm_up(**_: object) -> None:
    from django.db import connections

    from .engine.diffusion import get_backend

    connections.close_all()  # never share the parent's database sockets after fork
    threading.Thread(target=_heartbeat_loop, name="zimage-heartbeat", daemon=True).start()
    backend = get_backend()
    watch_cuda()
    _state["backend"] = backend.name
    logger.info("diffusion backend ready", extra={"backend": backend.name})


@worker_process_shutdown.connect
def stop_heartbeat(**_: object) -> None:
    _stop.set()


@task_prerun.connect
def remember_job(task=None, args=None, **_: object) -> None:
    if task is not None and task.name == "generation.run_job" and args:
        _state["job"] = args[0]


@task_postrun.connect
def forget_job(task=None, **_: object) -> None:
    if task is not None and task.name == "generation.run_job":
        _state["job"] = None
