"""gunicorn for the website and the REST API in production: WSGI, one process per core, a few threads each.

WebSockets go to daphne (zimage/asgi.py) behind the same proxy (deploy/nginx.conf). Plain HTTP does not:
Django's ASGI handler runs a sync view through thread hand-offs that cost more CPU than the view itself
(benchmarks/api.py measures both). Run with `gunicorn -c python:zimage.gunicorn_conf zimage.wsgi`.
"""

import os

bind = "0.0.0.0:8000"
worker_class = "gthread"
# gunicorn's own variable; a process per core by default, since a request is mostly Python on the CPU.
workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 1)
threads = 2  # one request computes while the other waits on PostgreSQL; more fight over the GIL (api.py: 4 = -25%)
keepalive = 5
timeout = 30
graceful_timeout = 30
accesslog = None  # the proxy logs requests; Django logs errors
