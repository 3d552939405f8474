"""Shared set-up for benchmarks: a database of their own on the real services, and machine facts."""

from __future__ import annotations

import os
import platform
import socket
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def configure(name: str, redis_db: int) -> str:
    """Point Django at `zimage_bench_<name>` (PostgreSQL if it answers) and Redis db `redis_db`; migrate."""
    database = f"zimage_bench_{name}"
    if "DATABASE_URL" not in os.environ and _reachable(5432):
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{database}"')
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{database}"
    if "REDIS_URL" not in os.environ and _reachable(6379):
        os.environ["REDIS_URL"] = f"redis://127.0.0.1:6379/{redis_db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        settings.DATABASES["default"]["NAME"] = settings.DATABASES["default"]["TEST"]["NAME"]
        os.environ["ZIMAGE_USE_TEST_DB"] = "1"
    call_command("migrate", verbosity=0)
    import redis

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    return settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]


def configure_without_database() -> None:
    """Django on tests.settings for a benchmark that reads no database (pure functions, storage, models)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()


def machine() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        model = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor()
    return f"{platform.node()} | {os.cpu_count()} cores | {model} | Python {platform.python_version()}"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def wrap_every_connection(wrapper: Any, uid: str) -> None:
    """`wrapper` (a Django execute wrapper) on every database connection of this process, open now or later."""
    from django.db import connections
    from django.db.backends.signals import connection_created

    def on_connection(sender: Any, connection: Any, **_: Any) -> None:
        if wrapper not in connection.execute_wrappers:
            connection.execute_wrappers.append(wrapper)

    connection_created.connect(on_connection, weak=False, dispatch_uid=uid)
    for connection in connections.all(initialized_only=True):
        on_connection(None, connection)
