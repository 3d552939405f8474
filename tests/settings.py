"""Test settings: the real PostgreSQL and Redis on loopback when they answer, else SQLite + embedded Redis.

The choice is exported to the environment so worker and server processes started by tests use the
same database, Redis and data directory.
"""

import os
import socket
import tempfile
from pathlib import Path


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


if "ZIMAGE_TEST_SERVICES" not in os.environ:
    os.environ["ZIMAGE_DATA_DIR"] = tempfile.mkdtemp(prefix="zimage-test-")
    os.environ.setdefault("DIFFUSION_BACKEND", "tiny")
    os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
    os.environ.setdefault("JOB_RETRY_BACKOFF_BASE", "0.2")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # Webhook tests receive on loopback over plain HTTP; the SSRF tests turn these off again.
    os.environ.setdefault("WEBHOOK_ALLOW_HTTP", "true")
    os.environ.setdefault("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true")
    if "DATABASE_URL" not in os.environ and _reachable(5432):
        os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/zimage"
    if "REDIS_URL" not in os.environ:
        if _reachable(6379):
            os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/9"
        else:
            from zimage import embedded_redis

            port = int(os.environ.get("EMBEDDED_REDIS_TEST_PORT", "6391"))
            embedded_redis.start(port, Path(os.environ["ZIMAGE_DATA_DIR"]) / "redis", persist=False)
            os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/9"
            os.environ["ZIMAGE_TEST_EMBEDDED_REDIS"] = "1"
    os.environ["ZIMAGE_TEST_SERVICES"] = "1"
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"

from zimage.settings import *  # noqa: E402,F403
from zimage.settings import DATA_DIR, DATABASES  # noqa: E402

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not :memory:, so worker processes started by tests see the same test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
    if os.environ.get("ZIMAGE_USE_TEST_DB"):  # set for worker/server processes started by tests
        DATABASES["default"]["NAME"] = DATABASES["default"]["TEST"]["NAME"]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast test logins only

# No collectstatic in tests: serve from the finders, without whitenoise's manifest.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
