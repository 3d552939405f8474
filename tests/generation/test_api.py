"""Jobs through the API: submit, filter, detail with progress and images, cancel, retry."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.redis_clients import shared_redis
from generation import events
from generation.models import GenerationJob, JobStatus
from generation.ops import monitoring

from ..factories import JOB_REQUEST, GenerationJobFactory, TemplateFactory, stored_image


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [job["id"] for job in response.json()["results"]]


def test_submit_answers_202_with_the_queued_job_and_an_estimate(api_client, user):
    response = api_client.post("/api/v1/jobs", JOB_REQUEST | {"num_images": 2, "seed": 7}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    job = GenerationJob.objects.get(pk=body["id"])
    assert (job.owner, job.status, job.num_images, job.seed) == (user, JobStatus.QUEUED, 2, 7)
    assert body["status"] == "queued" and body["estimated_seconds"] > 0 and body["images"] == []


@pytest.mark.django_db(transaction=True)  # the job.queued event is sent at the real COMMIT, inside the request
def test_a_watched_submit_reads_the_queue_once_for_its_event_and_its_202(api_client, user):
    shared_redis().set(monitoring.user_sockets_key(user.pk), 1)  # someone has the job list open
    try:
        with CaptureQueriesContext(connection) as queries:
            response = api_client.post("/api/v1/jobs", JOB_REQUEST, format="json")
    finally:
        shared_redis().delete(monitoring.user_sockets_key(user.pk))
    assert response.status_code == 202, response.content
    body = response.json()
    [queued] = [entry.event for entry in events.job_history(body["id"])[1]]
    assert queued["type"] == "job.queued"
    fields = ("queue_position", "estimated_start_seconds")
    assert [queued[name] for name in fields] == [body[name] for name in fields] == [0, 0]
    queue_orders = [query for query in queries.captured_queries if "JOIN generation_fairqueue queue" in query["sql"]]
    assert len(queue_orders) == 1, "the 202 says the standing the event read"


def test_the_list_filters_by_status_path_template_and_dates(api_client, user):
    template = TemplateFactory(production_path="eats")
    old = GenerationJobFactory(owner=user, failed=True)
    GenerationJob.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=10))
    eats = GenerationJobFactory(owner=user, succeeded=True, production_path="eats", template=template)
    queued = GenerationJobFactory(owner=user, status="queued")
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
    job = GenerationJobFactory(owner=user, running=True, num_images=2, progress_step=3, progress_total=8)
    image = stored_image(job=job)
    body = api_client.get(f"/api/v1/jobs/{job.pk}").json()
    assert (body["progress_step"], body["progress_total"], body["percent"]) == (3, 8, 38)
    assert [item["id"] for item in body["images"]] == [str(image.uuid)]
    assert set(body["images"][0]["urls"]) == {"url", "thumbnail_url"}


def test_cancel_a_queued_job(api_client, submit_api):
    job = submit_api(api_client)
    response = api_client.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "canceled"


def test_retry_a_failed_job_submits_the_same_inputs_as_a_new_job(api_client, submit_api):
    failed = GenerationJob.objects.get(pk=submit_api(api_client, seed=11)["id"])
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
        job = GenerationJobFactory(owner=user, status=status)
        error = api_client.post(f"/api/v1/jobs/{job.pk}/retry").json()["error"]
        assert error["code"] == "conflict" and status in error["message"]
    assert GenerationJob.objects.count() == 4


def test_an_unconfirmed_account_cannot_run_jobs_not_even_free_ones(db):
    """The sign-up credits wait for the e-mail confirmation, and so does the GPU: a free template is no way round."""
    from rest_framework.test import APIClient

    from accounts.models import User

    from ..factories import PASSWORD, TemplateFactory

    user = User.objects.create_user(email="new@example.com", password=PASSWORD)
    assert not user.is_email_verified
    client = APIClient()
    client.force_authenticate(user)
    free = TemplateFactory(credit_cost=0)

    response = client.post("/api/v1/jobs", {"prompt": "a red sneaker", "template": free.slug}, format="json")

    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "email_not_verified"
    assert not user.jobs.exists()
