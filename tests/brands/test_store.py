"""The gallery's store step with a brand kit's logo: `file` and its thumbnail show the logo, `original_file` is the
model's picture, both PNGs carry the job's metadata (its styles and kit included), and the original leaves storage
with its row."""

import io
import json

import pytest
from django.core.files.storage import default_storage
from django.db import transaction
from PIL import Image

from brands.logo import composite_logo
from gallery.services import store_generated_image

from ..factories import BrandKitFactory, GenerationJobFactory

pytestmark = pytest.mark.django_db(transaction=True)


def stored_pair(user):
    kit = BrandKitFactory(owner=user, name="Acme")
    job = GenerationJobFactory(owner=user, succeeded=True, brand_kit=kit, apply_logo=True)
    job.styles = [{"id": 1, "name": "Film grain", "weight": 0.75}, {"id": 2, "name": "Pastel", "weight": -1.0}]
    job.save(update_fields=["styles"])
    drawn = Image.new("RGB", (job.width, job.height), (0, 0, 255))
    logo = Image.new("RGBA", (10, 10), (255, 0, 0, 255))
    logoed = composite_logo(drawn, logo, corner="top-left", margin=0, scale=0.5, opacity=1)
    return store_generated_image(
        job=job,
        index=0,
        image=logoed,
        original=drawn,
        prompt_used=job.prompt,
        negative_prompt_used="",
        seed=job.seed,
        backend="tiny",
        generation_seconds=0.1,
    )


def opened(name: str) -> Image.Image:
    with default_storage.open(name) as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
    return image


def test_the_logoed_image_and_the_original_are_stored_with_the_same_metadata(user):
    image = stored_pair(user)

    shown, original = opened(image.file.name), opened(image.original_file.name)
    assert shown.getpixel((1, 1)) == (255, 0, 0) and original.getpixel((1, 1)) == (0, 0, 255)
    assert opened(image.thumbnail.name).convert("RGB").getpixel((1, 1))[0] > 200  # the thumbnail shows the logo
    shown_metadata, original_metadata = json.loads(shown.info["zimage"]), json.loads(original.info["zimage"])
    assert shown_metadata.pop("logo") == "composited"
    assert shown_metadata == original_metadata
    assert original_metadata["styles"] == "Film grain:0.75, Pastel:-1"
    assert original_metadata["brand_kit"] == "Acme"


def test_an_image_without_a_logo_has_no_separate_original(user):
    from ..factories import stored_image

    image = stored_image(user)

    assert image.original_file.name == ""
    assert "logo" not in opened(image.file.name).info


def test_deleting_the_image_removes_the_original_too(user):
    image = stored_pair(user)
    names = [image.file.name, image.thumbnail.name, image.original_file.name]

    with transaction.atomic():
        image.delete()

    assert not any(default_storage.exists(name) for name in names)
