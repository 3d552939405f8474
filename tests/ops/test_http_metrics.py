"""HTTP metrics in /metrics: requests and latency by route name, method and status, summed over every gunicorn
process (prometheus_client's multiprocess mode) and per process without it (`make run`, daphne)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from core.http_metrics import REGISTRY

from ..factories import GenerationJobFactory
from ..processes import DaphneProcess, GunicornProcess
from .test_metrics import TOKEN, metrics_token  # noqa: F401 (a fixture)


def requests_counted(route: str, method: str = "GET", status: str = "200") -> float:
    labels = {"route": route, "method": method, "status": status}
    return REGISTRY.get_sample_value("zimage_http_requests_total", labels) or 0.0


def http_samples(text: str) -> dict[str, dict[tuple, float]]:
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("zimage_http_"):
                samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


class TestInOneProcess:
    def test_a_request_is_counted_under_its_route_name_method_and_status(self, client, db):
        before = requests_counted("healthz")
        assert client.get("/healthz").status_code == 200
        assert requests_counted("healthz") == before + 1

    def test_an_object_route_is_one_series_whatever_the_id(self, api_client, user):
        before = requests_counted("generation-api:job-detail")
        for job in GenerationJobFactory.create_batch(2, owner=user):
            assert api_client.get(f"/api/v1/jobs/{job.pk}").status_code == 200
        assert requests_counted("generation-api:job-detail") == before + 2
        counted = http_samples(generate_latest(REGISTRY).decode())["zimage_http_requests_total"]
        routes = {dict(labels)["route"] for labels in counted}
        # A label is a URL name or a view's dotted path, never the path itself (which would carry the id);
        # names may hold digits of their own (admin:jsi18n, compat.doc002...).
        assert not any("/" in route for route in routes), routes

    def test_a_path_no_pattern_matches_is_unmatched_and_a_missing_object_keeps_its_route(self, api_client, db):
        before_unmatched = requests_counted("unmatched", status="404")
        before_detail = requests_counted("generation-api:job-detail", status="404")
        assert api_client.get("/no/such/page/123").status_code == 404
        assert api_client.get("/api/v1/jobs/999999999").status_code == 404
        assert requests_counted("unmatched", status="404") == before_unmatched + 1
        assert requests_counted("generation-api:job-detail", status="404") == before_detail + 1

    def test_latency_is_a_histogram_by_route_and_method(self, client, db):
        labels = {"route": "readyz", "method": "GET"}
        before = REGISTRY.get_sample_value("zimage_http_request_duration_seconds_count", labels) or 0.0
        client.get("/readyz")
        assert REGISTRY.get_sample_value("zimage_http_request_duration_seconds_count", labels) == before + 1
        assert REGISTRY.get_sample_value("zimage_http_request_duration_seconds_bucket", {**labels, "le": "+Inf"})

    def test_metrics_serves_them_beside_the_job_metrics(self, client, db, metrics_token):  # noqa: F811
        client.get("/healthz")
        text = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).content.decode()
        assert "# TYPE zimage_http_requests_total counter" in text
        assert "# TYPE zimage_http_request_duration_seconds histogram" in text
        assert "# TYPE zimage_jobs gauge" in text


@pytest.mark.e2e
class TestUnderGunicorn:
    WORKERS = 2
    REQUESTS = 40

    @pytest.fixture
    def multiproc_dir(self, tmp_path) -> Path:
        directory = tmp_path / "prometheus"
        directory.mkdir()
        (directory / "counter_999999.db").write_bytes(b"a previous master's file")
        return directory

    @pytest.fixture
    def gunicorn(self, transactional_db, multiproc_dir):
        server = GunicornProcess(
            workers=self.WORKERS, METRICS_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR=str(multiproc_dir)
        ).ready()
        yield server
        server.stop()

    def scrape(self, server) -> dict[str, dict[tuple, float]]:
        response = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert response.status_code == 200, response.text
        return http_samples(response.text)

    def test_every_request_is_counted_once_whichever_process_answered(self, gunicorn, multiproc_dir):
        healthz = (("method", "GET"), ("route", "healthz"), ("status", "200"))
        before = self.scrape(gunicorn)["zimage_http_requests_total"][healthz]  # ready() polled /healthz

        def get(_: int) -> int:
            # A connection per request, so the kernel hands them to whichever process accepts first.
            return httpx.get(f"{gunicorn.url}/healthz", headers={"Connection": "close"}, timeout=30).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(get, range(self.REQUESTS)))
        assert statuses == [200] * self.REQUESTS
        answered = {re.fullmatch(r"counter_(\d+)\.db", path.name).group(1) for path in multiproc_dir.glob("counter_*")}
        assert len(answered) == self.WORKERS, f"the requests did not reach every process: {answered}"
        for _ in range(3):  # whichever process answers the scrape, the sum is the same
            samples = self.scrape(gunicorn)
            assert samples["zimage_http_requests_total"][healthz] == before + self.REQUESTS
            latency = samples["zimage_http_request_duration_seconds_count"][healthz[:2]]
            assert latency == before + self.REQUESTS

    def test_a_previous_masters_files_are_wiped_at_start(self, gunicorn, multiproc_dir):
        assert not (multiproc_dir / "counter_999999.db").exists()
        assert (
            self.scrape(gunicorn)
            .get("zimage_http_requests_total", {})
            .get((("method", "GET"), ("route", "healthz"), ("status", "200")))
        )  # ready() polled /healthz: counted from this master's processes only


@pytest.mark.e2e
def test_under_daphne_without_a_multiprocess_directory_the_process_counts_its_own(transactional_db):
    """`make run` and the ws service: one ASGI process, no PROMETHEUS_MULTIPROC_DIR, its own registry."""
    server = DaphneProcess(METRICS_TOKEN=TOKEN).ready()
    try:
        healthz = (("method", "GET"), ("route", "healthz"), ("status", "200"))

        def counted() -> float:
            response = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
            assert response.status_code == 200, response.text
            return http_samples(response.text)["zimage_http_requests_total"][healthz]

        before = counted()
        for _ in range(5):
            assert httpx.get(f"{server.url}/healthz", timeout=30).status_code == 200
        assert counted() == before + 5
    finally:
        server.stop()
