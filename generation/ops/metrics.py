"""Prometheus metrics at /metrics, computed at scrape time from the database and Redis.

Nothing is kept in process memory, so every web process answers the same and a restart loses nothing. The HTTP
request metrics (core/http_metrics.py) are the exception: counted as requests are answered, summed over every
gunicorn process through PROMETHEUS_MULTIPROC_DIR.
The duration histogram covers the jobs that finished in the last hour, counted again on every scrape:
query it with `histogram_quantile(0.95, zimage_job_duration_seconds_bucket)` directly, not through rate().
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from accounts.models import CreditEntry, EntryKind
from core import http_metrics
from generation.engine.paths import PATH_NAMES
from generation.models import GenerationJob, JobStatus

from . import monitoring

DURATION_WINDOW = timedelta(hours=1)
DELETED_JOB = "deleted"  # the path label of charges whose job row is gone (the ledger keeps them)
DURATION_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 180.0, 300.0)


def job_counts() -> Metric:
    """Every job ever submitted, by status and path (one GROUP BY); absent combinations read 0."""
    rows = GenerationJob.objects.order_by().values_list("production_path", "status").annotate(n=Count("id"))
    counts = {(path, status): n for path, status, n in rows}
    metric = GaugeMetricFamily("zimage_jobs", "Jobs by status and production path.", labels=["path", "status"])
    paths = sorted({*PATH_NAMES, *(path for path, _ in counts)})
    for path in paths:
        for status in JobStatus.values:
            metric.add_metric([path, status], counts.get((path, status), 0))
    return metric


def job_durations() -> Metric:
    """Start-to-finish seconds of the jobs that succeeded or failed in the last hour, by path and status."""
    since = timezone.now() - DURATION_WINDOW
    duration = F("finished_at") - F("started_at")
    buckets = {
        f"le_{index}": Count("id", filter=Q(duration__lte=timedelta(seconds=bound)))
        for index, bound in enumerate(DURATION_BUCKETS)
    }
    rows = (
        GenerationJob.objects.filter(
            status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED], finished_at__gte=since, started_at__isnull=False
        )
        .annotate(duration=duration)
        .order_by()
        .values("production_path", "status")
        .annotate(total=Count("id"), seconds=Sum("duration"), **buckets)
    )
    metric = HistogramMetricFamily(
        "zimage_job_duration_seconds",
        "Seconds from start to finish of the jobs that finished in the last hour.",
        labels=["path", "status"],
    )
    for row in rows:
        cumulative = [(repr(bound), row[f"le_{index}"]) for index, bound in enumerate(DURATION_BUCKETS)]
        cumulative.append(("+Inf", row["total"]))
        total_seconds = row["seconds"].total_seconds() if row["seconds"] is not None else 0.0
        metric.add_metric([row["production_path"], row["status"]], cumulative, total_seconds)
    return metric


def credits_charged() -> Metric:
    """Credits spent on finished jobs, by the job's path: the ledger's charges (a charge moves reserved credits
        to spent, so its size is -reserved_change). It only grows, so `rate()` over it is credits spent per second;
    a deleted job's charge stays, under DELETED_JOB."""
    rows = (
        CreditEntry.objects.filter(kind=EntryKind.CHARGE)
        .order_by()
        .values_list(Coalesce("job__production_path", Value(DELETED_JOB)))
        .annotate(spent=Sum("reserved_change"))
    )
    spent = {path: -total for path, total in rows}
    metric = CounterMetricFamily(
        "zimage_credits_charged", "Credits charged for finished jobs, by production path.", labels=["path"]
    )
    for path in sorted({*PATH_NAMES, *spent}):
        metric.add_metric([path], spent.get(path, 0))
    return metric


def queue_metrics() -> Iterator[Metric]:
    depths = monitoring.queue_depths()
    yield GaugeMetricFamily("zimage_broker_up", "Whether the broker answered this scrape.", value=depths is not None)
    if depths is not None:
        metric = GaugeMetricFamily("zimage_queue_depth", "Messages waiting in each Celery queue.", labels=["queue"])
        for queue, depth in depths.items():
            metric.add_metric([queue], depth)
        yield metric


def worker_metrics() -> Iterator[Metric]:
    workers = monitoring.workers_online()
    yield GaugeMetricFamily("zimage_redis_up", "Whether Redis answered this scrape.", value=workers is not None)
    if workers is None:
        return
    yield GaugeMetricFamily(
        "zimage_workers_online", "Worker processes that heart-beat in the last minute.", value=len(workers)
    )
    age = GaugeMetricFamily(
        "zimage_worker_heartbeat_age_seconds", "Seconds since each worker's last heartbeat.", labels=["worker"]
    )
    busy = GaugeMetricFamily("zimage_worker_busy", "1 while the worker runs a job.", labels=["worker"])
    gpu = GaugeMetricFamily(
        "zimage_worker_gpu_memory_bytes", "GPU memory held by the worker process (CUDA only).", labels=["worker"]
    )
    resident = GaugeMetricFamily(
        "zimage_worker_model_bytes",
        "Bytes of weights each model the worker holds loaded keeps on its device (the model pool's charge).",
        labels=["worker", "model", "offloaded"],
    )
    for worker in workers:
        age.add_metric([worker.name], round(worker.heartbeat_age, 3))
        busy.add_metric([worker.name], int(worker.job_id is not None))
        if worker.gpu_memory_mb is not None:
            gpu.add_metric([worker.name], worker.gpu_memory_mb * 2**20)
        for model in worker.models:
            offloaded = str(bool(model.get("offloaded"))).lower()
            resident.add_metric([worker.name, str(model["model"]), offloaded], float(model.get("bytes") or 0))
    yield from (age, busy, gpu, resident)
    connections = monitoring.websocket_connections()
    if connections is not None:
        yield GaugeMetricFamily("zimage_websocket_connections", "Open job-event WebSockets.", value=connections)


class ZimageCollector:
    def collect(self) -> Iterator[Metric]:
        yield job_counts()
        yield job_durations()
        yield credits_charged()
        yield from queue_metrics()
        yield from worker_metrics()
        yield from http_metrics.collectors()


def render_metrics() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ZimageCollector())
    return generate_latest(registry)


def _bearer_token(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Answers only with `Authorization: Bearer <METRICS_TOKEN>`; without a configured token it does not exist."""
    expected = settings.METRICS_TOKEN
    if not expected:
        raise Http404
    token = _bearer_token(request)
    if token is None:
        response = HttpResponse("Send Authorization: Bearer <METRICS_TOKEN>.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if not hmac.compare_digest(token.encode(), expected.encode()):
        return HttpResponse("Wrong metrics token.\n", status=403, content_type="text/plain")
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)
