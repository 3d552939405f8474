"""HTTP request metrics for /metrics: a count and a latency histogram per route name, method and status.

The route is the resolved URL pattern's name (`namespace:name`, or the view's dotted path when it has none),
never the raw path, so a job id in a URL does not make a new series. A request no pattern matched is "unmatched",
a static file "static".

Under gunicorn's several processes prometheus_client's multiprocess mode keeps each process's values in
PROMETHEUS_MULTIPROC_DIR (zimage/gunicorn_conf.py sets and wipes it), and /metrics sums them all, so a scrape
counts every request whichever process answered it. Without that variable (`make run`, daphne) the values
live in this process's REGISTRY.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
STATIC = "static"
# Seconds: an API read takes milliseconds, a sign-in's password hash a few hundred, an upload up to seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# The per-process registry; in multiprocess mode only the files in PROMETHEUS_MULTIPROC_DIR are read.
REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "zimage_http_requests",
    "HTTP requests answered, by route name, method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
DURATION = Histogram(
    "zimage_http_request_duration_seconds",
    "Seconds from a request reaching Django to its response, by route name and method.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)


def route_of(request: HttpRequest) -> str:
    """The label for a request: its URL pattern's name, bounded to the project's own patterns."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name or UNMATCHED
    if settings.STATIC_URL and request.path.startswith(str(settings.STATIC_URL)):
        return STATIC
    return UNMATCHED


class HttpMetricsMiddleware:
    """First in MIDDLEWARE, so the time covers every other middleware and a static file is counted too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        route = route_of(request)
        method = request.method if request.method in METHODS else "other"
        DURATION.labels(route, method).observe(time.perf_counter() - started)
        REQUESTS.labels(route, method, str(response.status_code)).inc()
        return response


def collectors() -> Iterable[Metric]:
    """The HTTP metrics of every process (multiprocess mode) or of this one."""
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
        return registry.collect()
    return REGISTRY.collect()
