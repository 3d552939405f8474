"""gunicorn for the website and the REST API in production: WSGI, one process per core, a few threads each.

WebSockets go to daphne (zimage/asgi.py) behind the same proxy (deploy/nginx.conf). Plain HTTP does not:
Django's ASGI handler runs a sync view through thread hand-offs that cost more CPU than the view itself
(benchmarks/api.py measures both). Run with `gunicorn -c python:zimage.gunicorn_conf zimage.wsgi`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.base import Worker

bind = "0.0.0.0:8000"
worker_class = "gthread"
# gunicorn's own variable; a process per core by default, since a request is mostly Python on the CPU.
workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 1)
threads = 2  # one request computes while the other waits on PostgreSQL; more fight over the GIL (api.py: 4 = -25%)
keepalive = 5
timeout = 30
graceful_timeout = 30
accesslog = None  # the proxy logs requests; Django logs errors

# prometheus_client's multiprocess mode (core/http_metrics.py): each worker process writes its HTTP metrics to
# files in PROMETHEUS_MULTIPROC_DIR and /metrics sums them, so the counts hold whichever process answered.
created_dirs: list[str] = []  # the directory on_starting made, removed on exit


def on_starting(server: Arbiter) -> None:
    """Set the directory before any worker imports prometheus_client (which reads it once); a fresh one per master
    when it is unset. A previous master's files would be summed in as if this one had answered them: wiped."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        directory = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="zimage-prometheus-")
        created_dirs.append(directory)
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.remove(os.path.join(directory, name))


def child_exit(server: Arbiter, worker: Worker) -> None:
    """A dead worker's counts stay in the sum (they happened); only its live gauges are dropped."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, path=os.environ["PROMETHEUS_MULTIPROC_DIR"])


def on_exit(server: Arbiter) -> None:
    for directory in created_dirs:
        shutil.rmtree(directory, ignore_errors=True)
