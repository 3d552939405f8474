"""End-to-end: the API submits, a real Celery worker process runs the tiny diffusers pipeline."""

import time

import pytest
from PIL import Image

from generation.models import GenerationJob, JobStatus

pytestmark = pytest.mark.e2e


def wait_for(job_id, statuses, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = GenerationJob.objects.get(pk=job_id)
        if job.status in statuses:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job.status} after {timeout}s (last error: {job.last_error})")


def test_a_job_submitted_through_the_api_is_generated_by_a_worker(worker, api_client):
    response = api_client.post(
        "/api/v1/jobs",
        {
            "prompt": "red sneakers on a plinth",
            "production_path": "fashion",
            "width": 256,
            "height": 256,
            "steps": 3,
            "num_images": 2,
            "seed": 7,
        },
        format="json",
    )
    assert response.status_code == 202, response.content
    job = wait_for(response.json()["id"], {JobStatus.SUCCEEDED, JobStatus.FAILED})
    assert job.status == JobStatus.SUCCEEDED, job.last_error
    assert job.deliveries == 1
    assert job.progress_step == job.progress_total == 6
    images = list(job.images.order_by("index"))
    assert [(image.index, image.seed, image.backend) for image in images] == [(0, 7, "tiny"), (1, 8, "tiny")]
    with images[0].file.open("rb") as handle:
        png = Image.open(handle)
        png.load()
    assert png.size == (256, 256)
    assert png.text["prompt"] == job.enhanced_prompt
    assert png.text["seed"] == "7"
