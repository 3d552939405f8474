"""End-to-end: jobs that start from the customer's image, submitted through the API and drawn by a real Celery
worker process on the tiny pipeline (one worker for the module: the model loads once).

Each mode: the job succeeds at the size it promised, the source's pixels stay exactly where the mode says they
stay (outside the inpaint mask; the placed source in an outpaint), an upscale is exactly factor x its source, and
the job is charged what the price table (generation.credits.job_price) says; a failed or canceled one is refunded.
"""

import io

import numpy as np
import pytest
from django.db import transaction
from PIL import Image

from accounts.models import CreditEntry, EntryKind
from gallery.services import delete_stored, store_source_image
from generation.credits import job_price
from generation.engine.image_ops import PASTE_FEATHER
from generation.models import GenerationJob, JobStatus
from generation.services import submit_job_request
from tests.factories import mask_png, stored_image

from ..waiting import finished_job, job_when, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("module_worker", "transactional_db")]

IMAGE_JOB = {"prompt": "the same bottle on marble", "production_path": "beauty", "steps": 3, "seed": 5}


def noise_source(user, size: tuple[int, int], seed: int = 0):
    """An uploaded source of random pixels: any pixel the model changed would show."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="PNG")
    return store_source_image(owner=user, file=buffer.getvalue())


def pixels_of(stored) -> np.ndarray:
    with stored.file.open("rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
    return np.asarray(image.convert("RGB"))


def post(client, url: str, body: dict) -> dict:
    response = client.post(url, body, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def succeeded(job_id) -> GenerationJob:
    job = finished_job(job_id, timeout=180)
    assert job.status == JobStatus.SUCCEEDED, job.last_error
    return job


def settled(user):
    """The user once every finished job of theirs is settled (the settlement commits just after the job's end)."""
    return wait_until(
        lambda: (fresh := type(user).objects.get(pk=user.pk)).credits_reserved == 0 and fresh,
        timeout=30,
        message="the job's credits to be settled",
    )


def assert_charged(user, job: GenerationJob, *, balance_before: int, price: int) -> None:
    assert job.credit_cost == price
    user = settled(user)
    assert user.credit_balance == balance_before - price
    charge = CreditEntry.objects.get(job=job, kind=EntryKind.CHARGE)
    assert charge.reserved_change == -price


def test_image_to_image_draws_at_the_sources_size_and_charges_per_image(user, api_client):
    source = noise_source(user, (320, 256))
    before = user.credit_balance

    body = post(api_client, "/api/v1/jobs", IMAGE_JOB | {"source_image": str(source.uuid), "num_images": 2})
    job = succeeded(body["id"])

    assert (job.mode, job.source_upload_id, job.strength) == ("image", source.pk, 0.6)
    images = list(job.images.order_by("index"))
    assert [(image.width, image.height) for image in images] == [(320, 256), (320, 256)]
    drawn = [pixels_of(image) for image in images]
    assert drawn[0].shape == (256, 320, 3)
    assert not np.array_equal(drawn[0], pixels_of(source)) and not np.array_equal(drawn[0], drawn[1])
    price = job_price(mode="image", per_image=1, num_images=2, width=320, height=256)
    assert_charged(user, job, balance_before=before, price=price)


def test_inpaint_keeps_every_pixel_outside_the_mask_exactly(user, api_client):
    source = noise_source(user, (256, 256), seed=1)
    box = (64, 64, 192, 192)
    mask = store_source_image(owner=user, file=mask_png((256, 256), box), kind="mask")
    before = user.credit_balance

    body = post(api_client, "/api/v1/jobs", IMAGE_JOB | {"source_image": str(source.uuid), "mask": str(mask.uuid)})
    job = succeeded(body["id"])

    assert (job.mode, job.mask_id) == ("inpaint", mask.pk)
    out, kept = pixels_of(job.images.get()), pixels_of(source)
    assert out.shape == (256, 256, 3)
    outside = np.ones((256, 256), dtype=bool)
    outside[box[1] : box[3], box[0] : box[2]] = False
    assert np.array_equal(out[outside], kept[outside]), "a pixel outside the mask changed"
    left, top, right, bottom = (edge + PASTE_FEATHER * sign for edge, sign in zip(box, (1, 1, -1, -1), strict=True))
    inner = (slice(top, bottom), slice(left, right))  # inside the mask, past the feather band: the model's own
    assert np.abs(out[inner].astype(int) - kept[inner].astype(int)).mean() > 10
    assert_charged(user, job, balance_before=before, price=1)


def test_outpaint_keeps_the_placed_source_and_draws_the_new_area(user, api_client):
    source = noise_source(user, (256, 256), seed=2)
    before = user.credit_balance

    outpaint = {"width": 512, "height": 256, "anchor": "left"}
    body = post(api_client, "/api/v1/jobs", IMAGE_JOB | {"source_image": str(source.uuid), "outpaint": outpaint})
    job = succeeded(body["id"])

    assert (job.mode, job.outpaint_anchor) == ("outpaint", "left")
    out = pixels_of(job.images.get())
    assert out.shape == (256, 512, 3)
    assert np.array_equal(out[:, :256], pixels_of(source)), "the placed source moved or changed"
    assert out[:, 256 + PASTE_FEATHER :].std() > 1, "the new area is not drawn"
    assert_charged(user, job, balance_before=before, price=1)


def test_variations_redraw_a_gallery_image_with_new_seeds(user, api_client):
    image = stored_image(user, width=256, height=256, prompt="a red handbag")
    before = user.credit_balance

    body = post(api_client, f"/api/v1/images/{image.uuid}/variations", {"strength": "subtle", "num_images": 2})
    job = succeeded(body["id"])

    assert (job.mode, job.source_image_id, job.strength) == ("image", image.pk, 0.35)
    variations = list(job.images.order_by("index"))
    assert [(v.width, v.height) for v in variations] == [(256, 256), (256, 256)]
    assert variations[0].seed != image.seed
    drawn = [pixels_of(v) for v in variations]
    assert not np.array_equal(drawn[0], pixels_of(image)) and not np.array_equal(drawn[0], drawn[1])
    assert_charged(user, job, balance_before=before, price=2)


def test_upscale_is_exactly_factor_times_the_source_and_priced_by_output_megapixels(user, api_client):
    image = stored_image(user, width=640, height=480)
    before = user.credit_balance

    body = post(api_client, f"/api/v1/images/{image.uuid}/upscale", {"factor": 2})
    job = succeeded(body["id"])

    assert (job.mode, job.upscale_factor) == ("upscale", 2)
    out = job.images.get()
    assert (out.width, out.height) == (1280, 960)
    assert pixels_of(out).shape == (960, 1280, 3)
    # 1280 x 960 = 1.17 megapixels: two started megapixels.
    assert_charged(user, job, balance_before=before, price=2)


def test_an_image_job_whose_source_is_gone_fails_and_is_refunded(user):
    source = noise_source(user, (256, 256), seed=3)
    before = user.credit_balance

    with transaction.atomic():  # dispatched on commit: the file is gone before the worker looks
        job = submit_job_request(user=user, source_image=source.uuid, **IMAGE_JOB)
        delete_stored(str(source.file.name))
    job = finished_job(job.pk, timeout=120)

    assert job.status == JobStatus.FAILED
    assert not job.images.exists()
    assert settled(user).credit_balance == before
    assert not CreditEntry.objects.filter(job=job, kind=EntryKind.CHARGE).exists()


def test_a_canceled_running_image_job_is_refunded(user, api_client):
    source = noise_source(user, (512, 512), seed=4)
    before = user.credit_balance

    long_job = IMAGE_JOB | {"source_image": str(source.uuid), "strength": 1.0, "steps": 40, "num_images": 1}
    job_id = post(api_client, "/api/v1/jobs", long_job)["id"]
    job_when(job_id, lambda j: j.status == JobStatus.RUNNING and j.progress_step >= 1, timeout=120)
    response = api_client.post(f"/api/v1/jobs/{job_id}/cancel")

    assert response.status_code == 200 and response.json()["status"] == "canceled"
    assert not GenerationJob.objects.get(pk=job_id).images.exists()
    assert settled(user).credit_balance == before
    assert not CreditEntry.objects.filter(job_id=job_id, kind=EntryKind.CHARGE).exists()
