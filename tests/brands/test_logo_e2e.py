"""End-to-end: a job with a brand kit whose logo goes on every output, submitted through the API and drawn by a real
Celery worker on the tiny pipeline. The gallery's `file` (and its thumbnail) carry the logo exactly where
composite_logo puts it; `original_file` is the model's picture; both PNGs hold the job's metadata; the owner
downloads either, another user neither."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from brands.logo import composite_logo
from brands.models import LogoApply, LogoCorner
from brands.services import brand_kit_create
from tests.conftest import client_for
from tests.factories import UserFactory, png_bytes

from ..waiting import finished_job

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("worker", "transactional_db")]


def decoded(field) -> Image.Image:
    with field.open("rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
    return image


def test_a_kit_with_logo_on_all_outputs_stores_the_logoed_image_and_the_original(user, api_client):
    logo_png = png_bytes((60, 30), color=(255, 255, 255, 200), mode="RGBA")
    kit = brand_kit_create(
        owner=user,
        name="Acme",
        logo=logo_png,
        logo_corner=LogoCorner.BOTTOM_LEFT,
        logo_margin=0.05,
        logo_scale=0.25,
        logo_opacity=0.9,
        logo_apply=LogoApply.ALL,
    )
    response = api_client.post(
        "/api/v1/jobs",
        {"prompt": "a teapot", "production_path": "eats", "steps": 3, "seed": 7, "brand_kit": kit.pk},
        format="json",
    )
    assert response.status_code == 202, response.content

    job = finished_job(response.json()["id"], timeout=180)
    assert job.status == "succeeded", job.last_error
    assert job.apply_logo is True
    image = job.images.get()

    shown, original = decoded(image.file), decoded(image.original_file)
    expected = composite_logo(
        original.convert("RGB"),
        Image.open(io.BytesIO(logo_png)),
        corner=LogoCorner.BOTTOM_LEFT,
        margin=0.05,
        scale=0.25,
        opacity=0.9,
    )
    assert np.array_equal(np.asarray(shown.convert("RGB")), np.asarray(expected))
    assert not np.array_equal(np.asarray(shown.convert("RGB")), np.asarray(original.convert("RGB")))
    thumbnail = np.asarray(decoded(image.thumbnail).convert("RGB"), dtype=float)
    size = (thumbnail.shape[1], thumbnail.shape[0])
    distance = {
        name: np.abs(thumbnail - np.asarray(picture.convert("RGB").resize(size), dtype=float)).mean()
        for name, picture in (("logoed", shown), ("original", original))
    }
    assert distance["logoed"] < distance["original"]  # the thumbnail shows the logo too

    shown_metadata, original_metadata = json.loads(shown.info["zimage"]), json.loads(original.info["zimage"])
    assert shown_metadata["logo"] == "composited" and "logo" not in original_metadata
    assert shown_metadata["brand_kit"] == original_metadata["brand_kit"] == "Acme"
    assert shown_metadata["seed"] == original_metadata["seed"] == 7

    url = f"/api/v1/images/{image.uuid}/download?redirect=false"
    assert api_client.get(f"{url}&variant=original").status_code == 200
    assert client_for(UserFactory()).get(f"{url}&variant=original").status_code == 404
