"""/metrics: closed without its bearer token, and Prometheus text computed from the database and Redis."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from generation import worker
from generation.models import JobStatus
from generation.services import dispatch_job

from ..factories import timed_job

pytestmark = pytest.mark.django_db

TOKEN = "s3cret-scrape-token"


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client) -> dict[str, dict[tuple, float]]:
    """{metric sample name: {sorted label items: value}} from a real scrape."""
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


class TestAccess:
    def test_without_a_configured_token_the_endpoint_does_not_exist(self, client, settings):
        settings.METRICS_TOKEN = ""
        assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404
        assert client.get("/metrics").status_code == 404

    def test_no_token_is_401_and_a_wrong_one_403(self, client, metrics_token):
        missing = client.get("/metrics")
        assert missing.status_code == 401 and missing["WWW-Authenticate"].startswith("Bearer")
        assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 403
        assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401

    def test_a_staff_session_is_not_enough(self, admin_client, metrics_token):
        assert admin_client.get("/metrics").status_code == 401


class TestContent:
    def test_jobs_by_status_and_path(self, client, metrics_token, user):
        for status in (JobStatus.SUCCEEDED, JobStatus.SUCCEEDED, JobStatus.FAILED):
            timed_job(user, status=status, wait=1, processing=2)
        timed_job(user, status=JobStatus.QUEUED, production_path="eats")
        jobs = scrape(client)["zimage_jobs"]
        assert jobs[(("path", "fashion"), ("status", "succeeded"))] == 2
        assert jobs[(("path", "fashion"), ("status", "failed"))] == 1
        assert jobs[(("path", "eats"), ("status", "queued"))] == 1
        assert jobs[(("path", "cinema"), ("status", "running"))] == 0

    def test_duration_histogram_of_the_last_hour(self, client, metrics_token, user):
        recent = timezone.now() - timedelta(minutes=30)
        for seconds in (0.5, 3, 4, 50, 400):
            timed_job(user, status=JobStatus.SUCCEEDED, created=recent, wait=1, processing=seconds)
        timed_job(user, status=JobStatus.SUCCEEDED, created=timezone.now() - timedelta(hours=3), wait=1, processing=1)
        samples = scrape(client)
        labels = (("path", "fashion"), ("status", "succeeded"))
        buckets = {
            dict(key)["le"]: value
            for key, value in samples["zimage_job_duration_seconds_bucket"].items()
            if dict(key)["status"] == "succeeded"
        }
        assert (buckets["1.0"], buckets["5.0"], buckets["60.0"], buckets["300.0"], buckets["+Inf"]) == (1, 3, 4, 4, 5)
        assert samples["zimage_job_duration_seconds_count"][labels] == 5
        assert samples["zimage_job_duration_seconds_sum"][labels] == pytest.approx(457.5)

    def test_credits_charged_by_path_counting_only_what_finished_jobs_were_charged(self, client, metrics_token, user):
        timed_job(user, status=JobStatus.SUCCEEDED, wait=1, processing=2, num_images=3, credit_cost=3)
        timed_job(user, status=JobStatus.SUCCEEDED, wait=1, processing=2, production_path="eats", credit_cost=1)
        timed_job(user, status=JobStatus.FAILED, wait=1, credit_cost=5)  # released, not charged
        timed_job(user, status=JobStatus.QUEUED, credit_cost=7)  # reserved only
        charged = scrape(client)["zimage_credits_charged_total"]
        assert charged[(("path", "fashion"),)] == 3
        assert charged[(("path", "eats"),)] == 1
        assert charged[(("path", "cinema"),)] == 0

    def test_queue_depth_per_queue(self, client, metrics_token, user, broker):
        for _ in range(2):
            assert dispatch_job(timed_job(user, status=JobStatus.QUEUED, production_path="cinema"))
        samples = scrape(client)
        depth = {dict(key)["queue"]: value for key, value in samples["zimage_queue_depth"].items()}
        assert depth["gen.cinema"] == 2 and depth["gen.fashion"] == 0 and depth["default"] == 0
        assert samples["zimage_broker_up"][()] == 1

    def test_workers_heartbeats_and_gpu_memory(self, client, metrics_token, broker, redis_client):
        key = "zimage:worker:gpu-box:4242"
        beat = {"host": "gpu-box", "pid": 4242, "ts": time.time() - 7, "backend": "diffusers", "job": 17}
        redis_client.set(key, json.dumps(beat | {"gpu_memory_mb": 1536.0}), ex=60)
        try:
            samples = scrape(client)
        finally:
            redis_client.delete(key)
        name = (("worker", "gpu-box:4242"),)
        assert samples["zimage_workers_online"][()] >= 1
        assert 6 < samples["zimage_worker_heartbeat_age_seconds"][name] < 30
        assert samples["zimage_worker_busy"][name] == 1
        assert samples["zimage_worker_gpu_memory_bytes"][name] == 1536 * 2**20

    def test_the_models_each_worker_holds_loaded(self, client, metrics_token, redis_client):
        key = "zimage:worker:gpu-box:4243"
        models = [
            {"model": "stabilityai/stable-diffusion-xl-base-1.0", "bytes": 6_937_676_966, "offloaded": False},
            {"model": "Tongyi-MAI/Z-Image-Turbo", "bytes": 12_309_817_472, "offloaded": True},
        ]
        beat = {"host": "gpu-box", "pid": 4243, "ts": time.time(), "backend": "diffusers", "job": None}
        redis_client.set(key, json.dumps(beat | {"models": models}), ex=60)
        try:
            samples = scrape(client)["zimage_worker_model_bytes"]
        finally:
            redis_client.delete(key)
        mine = {dict(labels)["model"]: (dict(labels)["offloaded"], value) for labels, value in samples.items()}
        assert mine == {
            "stabilityai/stable-diffusion-xl-base-1.0": ("false", 6_937_676_966),
            "Tongyi-MAI/Z-Image-Turbo": ("true", 12_309_817_472),
        }

    def test_a_worker_without_cuda_reports_no_gpu_memory(self, client, metrics_token, redis_client):
        worker._beat_once(redis_client)
        try:
            samples = scrape(client)
        finally:
            redis_client.delete(worker.heartbeat_key())
        name = (("worker", worker.heartbeat_key().removeprefix(worker.HEARTBEAT_KEY_PREFIX)),)
        assert samples["zimage_worker_busy"][name] == 0
        assert name not in samples.get("zimage_worker_gpu_memory_bytes", {})

    def test_websocket_connections(self, client, metrics_token, redis_client):
        redis_client.set("zimage:ws:connections", 3)
        assert scrape(client)["zimage_websocket_connections"][()] == 3

    def test_redis_down_still_answers_with_the_database_metrics(self, client, metrics_token, settings):
        settings.REDIS_URL = settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
        samples = scrape(client)
        assert samples["zimage_broker_up"][()] == 0 and samples["zimage_redis_up"][()] == 0
        assert "zimage_jobs" in samples
