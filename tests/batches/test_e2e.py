"""End to end: a batch submitted through the API is drawn by a real Celery worker (the tiny pipeline), its
counts follow, and its zip holds every image named by prompt and size."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from generation.models import GenerationJob, JobStatus

from ..conftest import client_for
from ..factories import UserFactory
from ..waiting import finished_job

pytestmark = pytest.mark.e2e


def test_a_batch_runs_through_a_worker_and_downloads_as_named_pngs(module_worker, transactional_db, broker):
    user = UserFactory(credits=10)
    client = client_for(user)
    body = {"prompt": "Red sneaker on concrete!", "size_presets": ["1:1", "facebook_cover"], "steps": 1, "seed": 3}
    created = client.post("/api/v1/batches", body, format="json")
    assert created.status_code == 202, created.content
    batch = created.json()
    for job in batch["jobs"]:
        assert finished_job(job["id"], timeout=180).status == JobStatus.SUCCEEDED

    detail = client.get(f"/api/v1/batches/{batch['id']}").json()
    assert detail["counts"] == {"queued": 0, "running": 0, "succeeded": 2, "failed": 0, "canceled": 0}
    user.refresh_from_db()
    assert (user.credit_balance, user.credits_reserved) == (8, 0)  # both charged, nothing left reserved

    download = client.get(f"/api/v1/batches/{batch['id']}/download")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    assert archive.namelist() == ["red-sneaker-on-concrete_1x1_1.png", "red-sneaker-on-concrete_facebook_cover_1.png"]
    sizes = [Image.open(io.BytesIO(archive.read(name))).size for name in archive.namelist()]
    assert sizes == [(1024, 1024), (820, 312)]
    assert set(GenerationJob.objects.filter(owner=user).values_list("seed", flat=True)) == {3}
