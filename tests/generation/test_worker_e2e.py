"""End-to-end: the API submits, a real Celery worker process runs the tiny diffusers pipeline."""

import pytest
from PIL import Image

from generation.models import JobStatus

from ..waiting import finished_job

pytestmark = pytest.mark.e2e


def test_a_job_submitted_through_the_api_is_generated_by_a_worker(worker, api_client, submit_api):
    body = submit_api(
        api_client, prompt="red sneakers on a plinth", width=256, height=256, steps=3, num_images=2, seed=7
    )
    job = finished_job(body["id"], timeout=60)
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
