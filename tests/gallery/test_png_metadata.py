"""A stored image's PNG says how it was made: for a job that started from the customer's image, its mode, the
source and mask ids (as the API names them) and the strength; a text job's says mode "text" and nothing more."""

import io

import pytest
from PIL import Image

from gallery.services import store_source_image
from generation.services import submit_job_request, upscale_image
from tests.factories import mask_png, source_upload, stored_image

pytestmark = pytest.mark.django_db

IMAGE_JOB = {"prompt": "the same bottle on marble", "production_path": "beauty", "steps": 2}


def png_text(image) -> dict[str, str]:
    with image.file.open("rb") as handle:
        png = Image.open(io.BytesIO(handle.read()))
        png.load()
    return dict(png.text)


def test_a_text_jobs_png_records_its_mode_and_no_source(user):
    text = png_text(stored_image(user))

    assert text["mode"] == "text"
    assert not {"source_image", "mask", "strength"} & set(text)


def test_an_inpaint_jobs_png_records_its_mode_source_mask_and_strength(user):
    source = source_upload(user, size=(256, 256))
    mask = store_source_image(owner=user, file=mask_png((256, 256), (64, 64, 192, 192)), kind="mask")
    job = submit_job_request(user=user, source_image=source.uuid, mask=mask.uuid, strength=0.8, **IMAGE_JOB)

    text = png_text(stored_image(job=job))

    assert (text["mode"], text["source_image"], text["mask"]) == ("inpaint", str(source.uuid), str(mask.uuid))
    assert float(text["strength"]) == 0.8


def test_an_image_to_image_png_records_a_gallery_source_and_no_mask(user):
    gallery_source = stored_image(user, width=256, height=256)
    job = submit_job_request(user=user, source_image=gallery_source.uuid, strength=0.3, **IMAGE_JOB)

    text = png_text(stored_image(job=job))

    assert (text["mode"], text["source_image"], float(text["strength"])) == ("image", str(gallery_source.uuid), 0.3)
    assert "mask" not in text


def test_an_upscale_png_records_its_factor(user):
    gallery_source = stored_image(user, width=256, height=256)
    job = upscale_image(user=user, image=gallery_source, factor=2)

    text = png_text(stored_image(job=job))

    assert (text["mode"], text["source_image"], text["upscale_factor"]) == ("upscale", str(gallery_source.uuid), "2")
