"""`make run`: migrate, seed, then run web (daphne), worker and beat in the foreground; Ctrl-C stops all.

Starts the embedded Redis first when REDIS_URL is unset. Each child's output is prefixed with its name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zimage.settings")
# Local development: webhooks may go to a receiver on this machine over plain HTTP (production refuses both).
os.environ.setdefault("WEBHOOK_ALLOW_HTTP", "true")
os.environ.setdefault("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from generation.engine.paths import QUEUE_NAMES  # noqa: E402
from zimage import embedded_redis  # noqa: E402

HOST = os.environ.get("HOST", "127.0.0.1")
PORT = os.environ.get("PORT", "8000")


def describe_defaults() -> list[str]:
    lines = []
    db = settings.DATABASES["default"]
    lines.append(
        f"database : {'SQLite (embedded) at ' + str(db['NAME']) if db['ENGINE'].endswith('sqlite3') else 'PostgreSQL'}"
    )
    lines.append(f"redis    : {'embedded redis-server on ' if settings.REDIS_EMBEDDED else ''}{settings.REDIS_URL}")
    if "FileSystem" in settings.STORAGES["default"]["BACKEND"]:
        lines.append(f"storage  : local files (private) at {settings.MEDIA_ROOT}")
    else:
        lines.append(f"storage  : S3 bucket {settings.AWS_STORAGE_BUCKET_NAME}")
    lines.append(
        f"diffusion: DIFFUSION_BACKEND={settings.DIFFUSION_BACKEND} (auto = real model with CUDA + weights, else tiny)"
    )
    return lines


def pipe_output(name: str, stream) -> None:
    for line in iter(stream.readline, b""):
        sys.stdout.write(f"{name:<7}| {line.decode(errors='replace')}")
        sys.stdout.flush()


def main() -> int:
    settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
    print("zimage: starting with")
    for line in describe_defaults():
        print("  " + line)
    children: list[tuple[str, subprocess.Popen]] = []
    if settings.REDIS_EMBEDDED:
        process = embedded_redis.start(settings.EMBEDDED_REDIS_PORT, settings.DATA_DIR / "redis")
        if process is not None:
            children.append(("redis", process))
    call_command("migrate", interactive=False, verbosity=0)
    call_command("ensure_bucket")  # S3 only: creates the private image bucket if missing
    call_command("collectstatic", interactive=False, verbosity=0)
    call_command("seed")
    python = sys.executable
    queues = ",".join(QUEUE_NAMES)
    commands = {
        "web": [python, "-m", "daphne", "-b", HOST, "-p", PORT, "zimage.asgi:application"],
        "worker": [
            python,
            "-m",
            "celery",
            "-A",
            "zimage",
            "worker",
            "-Q",
            queues,
            "--concurrency",
            os.environ.get("WORKER_CONCURRENCY", "1"),
            "-n",
            "worker@%h",
            "--loglevel",
            "INFO",
        ],
        "beat": [
            python,
            "-m",
            "celery",
            "-A",
            "zimage",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(settings.DATA_DIR / "celerybeat-schedule"),
        ],
    }
    for name, command in commands.items():
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=pipe_output, args=(name, process.stdout), daemon=True).start()
        children.append((name, process))
    print(f"zimage: serving on http://{HOST}:{PORT}/  (Ctrl-C stops everything)", flush=True)

    stopping = threading.Event()
    # Explicit for SIGINT too: a launcher started in the background inherits SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    while not stopping.is_set():
        for name, process in children:
            if process.poll() is not None:
                print(f"zimage: {name} exited with {process.returncode}; stopping", flush=True)
                stopping.set()
        stopping.wait(0.5)
    print("zimage: stopping", flush=True)
    for _, process in reversed(children):
        if process.poll() is None:
            process.terminate()
    for _, process in reversed(children):
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
