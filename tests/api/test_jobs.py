"""Jobs through the API: submit, filter, detail with progress and images, cancel, retry; health."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from rest_framework.test import APIClient

from generation.models import GenerationJob, JobStatus

from ..factories import TemplateFactory
from .conftest import make_job, store_image

JOB = {"prompt": "a linen summer dress, white studio", "production_path": "fashion", "width": 256, "height": 256}


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [job["id"] for job in response.json()["results"]]


def test_submit_answers_202_with_the_queued_job_and_an_estimate(api_client, user):
    response = api_client.post("/api/v1/jobs", {**JOB, "num_images": 2, "seed": 7}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    job = GenerationJob.objects.get(pk=body["id"])
    assert (job.owner, job.status, job.num_images, job.seed) == (user, JobStatus.QUEUED, 2, 7)
    assert body["status"] == "queued" and body["estimated_seconds"] > 0 and body["images"] == []


def test_the_list_filters_by_status_path_template_and_dates(api_client, user):
    template = TemplateFactory(production_path="eats")
    old = make_job(user, status="failed")
    GenerationJob.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=10))
    eats = make_job(user, production_path="eats", template=template)
    queued = make_job(user, status="queued")
    assert ids(api_client.get("/api/v1/jobs", {"status": "queued"})) == [queued.pk]
    assert ids(api_client.get("/api/v1/jobs", {"path": "eats"})) == [eats.pk]
    assert ids(api_client.get("/api/v1/jobs", {"template": template.slug})) == [eats.pk]
    week_ago = (timezone.now() - dt.timedelta(days=7)).date().isoformat()
    assert ids(api_client.get("/api/v1/jobs", {"created_after": week_ago})) == [queued.pk, eats.pk]
    assert ids(api_client.get("/api/v1/jobs", {"created_before": week_ago})) == [old.pk]
    assert ids(api_client.get("/api/v1/jobs", {"status": "failed", "created_after": week_ago})) == []


def test_a_bad_filter_is_a_400_naming_it(api_client):
    for params, field in (
        ({"status": "done"}, "status"),
        ({"path": "fashon"}, "path"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"colour": "red"}, "colour"),
    ):
        error = api_client.get("/api/v1/jobs", params).json()["error"]
        assert error["code"] == "invalid" and field in error["fields"], params


def test_detail_has_progress_and_images(api_client, user):
    job = make_job(user, status="running", num_images=2, progress_step=3, progress_total=8)
    image = store_image(user, job)
    body = api_client.get(f"/api/v1/jobs/{job.pk}").json()
    assert (body["progress_step"], body["progress_total"], body["percent"]) == (3, 8, 38)
    assert [item["id"] for item in body["images"]] == [str(image.uuid)]
    assert set(body["images"][0]["urls"]) == {"url", "thumbnail_url"}


def test_cancel_a_queued_job(api_client, user):
    job = api_client.post("/api/v1/jobs", JOB, format="json").json()
    response = api_client.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "canceled"


def test_retry_a_failed_job_submits_the_same_inputs_as_a_new_job(api_client, user):
    failed = GenerationJob.objects.get(
        pk=api_client.post("/api/v1/jobs", {**JOB, "seed": 11}, format="json").json()["id"]
    )
    GenerationJob.objects.filter(pk=failed.pk).update(status=JobStatus.FAILED, last_error="CUDA out of memory")
    response = api_client.post(f"/api/v1/jobs/{failed.pk}/retry")
    assert response.status_code == 202, response.content
    retry = GenerationJob.objects.get(pk=response.json()["id"])
    assert retry.pk != failed.pk and retry.status == JobStatus.QUEUED
    fields = ("prompt", "production_path", "width", "height", "seed", "steps", "num_images")
    assert [getattr(retry, name) for name in fields] == [getattr(failed, name) for name in fields]
    assert api_client.post(f"/api/v1/jobs/{failed.pk}/retry").json()["id"] == retry.pk  # at most once


def test_retry_of_a_job_that_did_not_fail_is_a_409(api_client, user):
    for status in ("queued", "running", "succeeded", "canceled"):
        job = make_job(user, status=status)
        error = api_client.post(f"/api/v1/jobs/{job.pk}/retry").json()["error"]
        assert error["code"] == "conflict" and status in error["message"]
    assert GenerationJob.objects.count() == 4


def test_health_is_the_readiness_payload_without_login(client, db):
    api = APIClient().get("/api/v1/health")
    probe = client.get("/readyz")
    assert api.status_code == probe.status_code
    assert set(api.json()) == set(probe.json()) == {"status", "down", "checks"}
    assert set(api.json()["checks"]) == {"database", "redis", "storage", "workers"}
