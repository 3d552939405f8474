"""End-to-end: LoRA styles drawn by a real Celery worker process on the tiny pipelines (one worker for the module).

The worker fetches each style's file from storage by its sha256, loads it as a diffusers adapter and applies it;
a job without styles after a styled one draws exactly the base model's image; a style that cannot be loaded fails
its job with a clear message and a refund, and the worker goes on to the next job.
"""

import io
import json

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from generation.engine.models_catalog import SDXL, Z_IMAGE_TURBO
from generation.models import GenerationJob, JobStatus
from generation.services import dispatch_job
from tests.factories import GenerationJobFactory, lora_file, stored_style

from ..waiting import finished_job, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("module_worker", "transactional_db")]

SDXL_JOB = {"model": SDXL, "scheduler": "EulerDiscrete", "guidance": 5.0, "production_path": "fashion"}


def run(user, *, styles=(), **fields) -> GenerationJob:
    job = GenerationJobFactory(owner=user, styles=list(styles), with_reservation=True, width=128, height=128, **fields)
    assert dispatch_job(job)
    return finished_job(job.pk, timeout=180)


def succeeded(job: GenerationJob) -> GenerationJob:
    assert job.status == JobStatus.SUCCEEDED, job.last_error
    return job


def pixels(job: GenerationJob) -> np.ndarray:
    with job.images.get().file.open("rb") as handle:
        return np.asarray(Image.open(io.BytesIO(handle.read())).convert("RGB"), dtype=np.int16)


def png_text(job: GenerationJob) -> dict:
    with job.images.get().file.open("rb") as handle:
        return json.loads(Image.open(io.BytesIO(handle.read())).text["zimage"])


def refunded(user, before: int):
    """The user once the failed job's reservation is released: nothing charged."""
    fresh = wait_until(
        lambda: (u := type(user).objects.get(pk=user.pk)).credits_reserved == 0 and u,
        timeout=30,
        message="the failed job's credits to be released",
    )
    assert fresh.credit_balance == before


@pytest.mark.parametrize("fields", [{}, SDXL_JOB], ids=["z-image", "sdxl"])
def test_a_style_changes_the_image_and_the_next_job_without_it_draws_exactly_the_base(user, fields):
    model = fields.get("model", Z_IMAGE_TURBO)
    base = pixels(succeeded(run(user, **fields)))
    linen = stored_style(lora_file(model, seed=4), base_model=model, name="Linen", weight=0.8)

    styled = succeeded(run(user, styles=[linen], **fields))
    after = succeeded(run(user, **fields))

    assert np.abs(pixels(styled) - base).mean() > 0.5
    assert (pixels(after) == base).all()
    assert png_text(styled)["styles"] == "Linen:0.8" and "styles" not in png_text(after)


def test_a_corrupt_style_fails_its_job_with_a_refund_and_the_worker_draws_on(user):
    broken = stored_style(lora_file(Z_IMAGE_TURBO, seed=5)[:-128], name="Broken")
    before = user.credit_balance

    job = run(user, styles=[broken])

    assert job.status == JobStatus.FAILED
    assert "Style 'Broken' cannot be used with Z-Image-Turbo" in job.last_error and "truncated" in job.last_error
    refunded(user, before)
    succeeded(run(user))


def test_a_style_for_the_other_base_model_fails_its_job_with_a_refund(user):
    sdxl_style = stored_style(lora_file(SDXL, seed=6), base_model=SDXL, name="Glossy")
    before = user.credit_balance

    job = run(user, styles=[sdxl_style])

    assert job.status == JobStatus.FAILED
    assert "made for Stable Diffusion XL, not Z-Image-Turbo" in job.last_error
    refunded(user, before)


def test_a_stored_file_that_no_longer_matches_its_checksum_fails_the_job(user):
    style = stored_style(lora_file(Z_IMAGE_TURBO, seed=7), name="Swapped")
    default_storage.delete(style["file"])
    default_storage.save(style["file"], ContentFile(lora_file(Z_IMAGE_TURBO, seed=8)))
    before = user.credit_balance

    job = run(user, styles=[style])

    assert job.status == JobStatus.FAILED and "does not match its checksum" in job.last_error
    refunded(user, before)
