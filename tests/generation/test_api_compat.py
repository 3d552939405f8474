"""The first API's routes: POST /generate, GET /status/{job_id}, GET /jobs?skip=&limit=, on the same services."""

from __future__ import annotations

from generation.models import GenerationJob

from ..factories import GenerationJobFactory, stored_image


def test_generate_answers_202_with_the_job_id_and_status(api_client, user):
    response = api_client.post(
        "/api/v1/generate", {"prompt": "red sneakers", "production_path": "fashion"}, format="json"
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == {"job_id", "status", "estimated_seconds"} and body["status"] == "queued"
    job = GenerationJob.objects.get(pk=body["job_id"])
    assert (job.owner, job.prompt, job.production_path) == (user, "red sneakers", "fashion")


def test_generate_validates_like_jobs(api_client):
    error = api_client.post("/api/v1/generate", {"prompt": "x", "num_images": 5}, format="json").json()["error"]
    assert error["code"] == "invalid" and "num_images" in error["fields"]
    assert not GenerationJob.objects.exists()


def test_status_reports_progress_images_and_error(api_client, user):
    running = GenerationJobFactory(owner=user, running=True, progress_step=2, progress_total=4)
    assert api_client.get(f"/api/v1/status/{running.pk}").json() == {
        "job_id": running.pk,
        "status": "running",
        "progress": 50,
        "images": [],
        "error": None,
    }
    done = GenerationJobFactory(owner=user, succeeded=True)
    image = stored_image(job=done)
    body = api_client.get(f"/api/v1/status/{done.pk}").json()
    assert body["status"] == "succeeded" and body["images"][0]["id"] == str(image.uuid)
    assert body["images"][0]["url"] and body["images"][0]["thumbnail_url"]
    failed = GenerationJobFactory(owner=user, failed=True, last_error="Worker lost")
    assert api_client.get(f"/api/v1/status/{failed.pk}").json()["error"] == "Worker lost"


def test_jobs_skip_and_limit_page_like_page_numbers(api_client, user):
    jobs = GenerationJobFactory.create_batch(5, owner=user)
    newest_first = [job.pk for job in reversed(jobs)]
    body = api_client.get("/api/v1/jobs", {"skip": 1, "limit": 2}).json()
    assert [job["id"] for job in body["results"]] == newest_first[1:3]
    assert body["count"] == 5 and "skip=3" in body["next"] and "limit=2" in body["next"]
    assert [job["id"] for job in api_client.get("/api/v1/jobs", {"skip": 4}).json()["results"]] == newest_first[4:]


def test_bad_skip_or_limit_is_a_400(api_client):
    for params in ({"skip": -1}, {"limit": 0}, {"limit": "ten"}):
        error = api_client.get("/api/v1/jobs", params).json()["error"]
        assert error["code"] == "invalid" and set(params) <= set(error["fields"]), params
