"""Operational reads shared by the admin statistics page and /metrics: queue depths, workers, open sockets.

Everything here reads Redis with short timeouts and reports "unknown" (None) instead of raising, so an
operations page still renders when Redis is the thing that is down.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import redis
from asgiref.sync import sync_to_async
from django.conf import settings

from core.brokers import uses_rabbitmq
from core.redis_clients import shared_redis
from generation.engine.paths import QUEUE_NAMES

logger = logging.getLogger(__name__)

WEBSOCKET_CONNECTIONS_KEY = "zimage:ws:connections"


def queue_names() -> list[str]:
    """The Celery queues jobs go to: the default queue, then one per production path."""
    return list(QUEUE_NAMES)


def queue_depths() -> dict[str, int] | None:
    """Messages waiting in each queue (kombu keeps a Redis list per queue); None when the broker is unreachable."""
    names = queue_names()
    if uses_rabbitmq(settings.CELERY_BROKER_URL):
        return _rabbitmq_queue_depths(names)
    try:
        pipe = shared_redis(settings.CELERY_BROKER_URL, timeout=1).pipeline(transaction=False)
        for name in names:
            pipe.llen(name)
        return dict(zip(names, pipe.execute(), strict=True))
    except redis.RedisError:
        logger.warning("queue depths unavailable: the broker is unreachable")
        return None


def _rabbitmq_queue_depths(names: list[str]) -> dict[str, int] | None:
    """Ready messages per queue, from declaring each queue as the app does (idempotent; no management plugin)."""
    from celery import current_app as app  # the zimage Celery app, without importing the wiring package
    from kombu import Connection
    from kombu.exceptions import OperationalError

    connection = Connection(
        settings.CELERY_BROKER_URL, connect_timeout=1, transport_options={"max_retries": 1, "interval_start": 0}
    )
    try:
        with connection:
            channel = connection.default_channel
            depths = {queue.name: queue(channel).queue_declare().message_count for queue in app.conf.task_queues}
    except (OSError, OperationalError, *connection.connection_errors, *connection.channel_errors):
        logger.warning("queue depths unavailable: the broker is unreachable")
        return None
    return {name: depths.get(name, 0) for name in names}


@dataclass(frozen=True)
class WorkerStatus:
    name: str
    backend: str
    job_id: int | None
    heartbeat_age: float
    gpu_memory_mb: float | None
    # The models the worker holds loaded, least recently used first: {"model", "bytes", "offloaded"} each.
    models: tuple[dict[str, Any], ...] = ()


def workers_online() -> list[WorkerStatus] | None:
    """Worker processes that heart-beat in the last minute (core.health), with their current job."""
    from generation.worker import online_workers

    try:
        beats = online_workers()
    except redis.RedisError:
        logger.warning("worker heartbeats unavailable: Redis is unreachable")
        return None
    now = time.time()
    workers = [_worker_status(beat, now) for beat in beats]
    return sorted(workers, key=lambda worker: worker.name)


def _worker_status(beat: dict[str, Any], now: float) -> WorkerStatus:
    job = beat.get("job")
    gpu = beat.get("gpu_memory_mb")
    return WorkerStatus(
        name=f"{beat.get('host')}:{beat.get('pid')}",
        backend=str(beat.get("backend")),
        job_id=int(job) if isinstance(job, int | str) and str(job).isdigit() else None,
        heartbeat_age=max(0.0, now - float(beat.get("ts") or now)),
        gpu_memory_mb=float(gpu) if isinstance(gpu, int | float) else None,
        models=tuple(model for model in beat.get("models") or () if isinstance(model, dict) and "model" in model),
    )


# --- WebSocket connections: Redis counters moved by generation.consumers ----------------------

# Open sockets on a user's job list, per user: a new job is announced only to owners who have one.
USER_SOCKETS_TTL = 24 * 3600  # a count left high by a server that died goes away by itself


def user_sockets_key(user_id: int) -> str:
    return f"zimage:ws:user:{user_id}:sockets"


def _move_websocket_count(change: int, user_id: int | None) -> None:
    try:
        pipe = shared_redis(timeout=1).pipeline(transaction=False)
        pipe.incrby(WEBSOCKET_CONNECTIONS_KEY, change)
        if user_id is not None:
            pipe.incrby(user_sockets_key(user_id), change).expire(user_sockets_key(user_id), USER_SOCKETS_TTL)
        pipe.execute()
    except redis.RedisError:
        logger.warning("could not count a WebSocket connection: Redis is unreachable")


async def websocket_opened(*, list_of: int | None = None) -> None:
    """A socket opened; `list_of` is the user whose job list it watches (None: a single job's socket)."""
    await sync_to_async(_move_websocket_count, thread_sensitive=False)(1, list_of)


async def websocket_closed(*, list_of: int | None = None) -> None:
    await sync_to_async(_move_websocket_count, thread_sensitive=False)(-1, list_of)


def watches_job_list(user_id: int) -> bool:
    """Whether the user has a socket open on their job list; True when Redis cannot tell (announce anyway)."""
    try:
        return int(shared_redis(timeout=1).get(user_sockets_key(user_id)) or 0) > 0
    except redis.RedisError:
        return True


def websocket_connections() -> int | None:
    try:
        value = shared_redis(timeout=1).get(WEBSOCKET_CONNECTIONS_KEY)
    except redis.RedisError:
        return None
    return max(0, int(value or 0))
