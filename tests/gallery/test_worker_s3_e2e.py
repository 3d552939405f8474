"""End-to-end on S3: a real worker process stores a job's images in the bucket over HTTP; the API hands out
presigned URLs that download; purging an image and deleting the job leave the bucket empty."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from generation.models import GenerationJob, JobStatus

from ..waiting import finished_job
from .conftest import S3_ACCESS_KEY, S3_SECRET_KEY

pytestmark = pytest.mark.e2e


def test_a_worker_stores_in_s3_and_nothing_outlives_the_job(s3_storage, start_worker, api_client, submit_api):
    start_worker(
        AWS_STORAGE_BUCKET_NAME=s3_storage.bucket,
        AWS_S3_ENDPOINT_URL=s3_storage.server.endpoint,
        AWS_ACCESS_KEY_ID=S3_ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=S3_SECRET_KEY,
    )
    submitted = submit_api(api_client, prompt="a green raincoat", num_images=2, seed=3)
    job = finished_job(submitted["id"])
    assert job.status == JobStatus.SUCCEEDED, job.last_error

    images = list(job.images.order_by("index"))
    assert s3_storage.keys() == {name for image in images for name in (image.file.name, image.thumbnail.name)}
    listed = api_client.get("/api/v1/images").json()["results"]
    assert {item["id"] for item in listed} == {str(image.uuid) for image in images}
    original = httpx.get(listed[0]["urls"]["url"], timeout=10)
    assert original.status_code == 200
    assert Image.open(io.BytesIO(original.content)).text["seed"] in {"3", "4"}
    unsigned = f"{s3_storage.server.endpoint}/{s3_storage.bucket}/{images[0].file.name}"
    assert httpx.get(unsigned, timeout=10).status_code == 403

    assert api_client.delete(f"/api/v1/images/{images[0].uuid}").status_code == 204
    assert api_client.post("/api/v1/trash/empty").json() == {"purged": 1}
    assert s3_storage.keys() == {images[1].file.name, images[1].thumbnail.name}

    GenerationJob.objects.get(pk=job.pk).delete()

    assert s3_storage.keys() == set()
