"""One Redis client per process, URL and timeout, shared by every thread.

A redis-py client owns a connection pool and is thread-safe; making one per call would open a connection
per request (which is what Django's cache backend does under ASGI, where its instances are per request).
"""

from __future__ import annotations

import threading

import redis
from django.conf import settings

_clients: dict[tuple[str, float], redis.Redis] = {}
_lock = threading.Lock()


def shared_redis(url: str | None = None, *, timeout: float = 2.0) -> redis.Redis:
    """The process's client for `url` (default: REDIS_URL), failing after `timeout` seconds."""
    key = (url or settings.REDIS_URL, timeout)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = redis.Redis.from_url(key[0], socket_connect_timeout=timeout, socket_timeout=timeout)
                _clients[key] = client
    return client
