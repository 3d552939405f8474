"""The generate page's "Start from an image": an upload (stored first, deleted again when the job is refused) or one
of the user's own gallery images, with a strength; each refusal is a field error that stores nothing."""

from __future__ import annotations

import base64

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from accounts.models import CreditEntry
from gallery.models import SourceImage
from gallery.services import source_key
from generation.models import GenerationJob

from ..factories import mask_png, png_bytes, stored_image

pytestmark = pytest.mark.django_db

GENERATE = reverse("generation:generate")
FIELDS = {"production_path": "fashion", "prompt": "the same dress on a terrace", "num_images": "1", "steps": "2"}


def upload(data: bytes | None = None, name: str = "shot.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes((320, 256)) if data is None else data, content_type="image/png")


def stored_sources(user) -> list[str]:
    folder = source_key(user.pk, "")
    return default_storage.listdir(folder)[1] if default_storage.exists(folder) else []


def nothing_stored(user) -> bool:
    return (
        not GenerationJob.objects.filter(owner=user).exists()
        and not SourceImage.objects.filter(owner=user).exists()
        and not CreditEntry.objects.filter(user=user, kind="reservation").exists()
        and not stored_sources(user)
    )


def the_job(response, user) -> GenerationJob:
    job = GenerationJob.objects.filter(owner=user).exclude(status="succeeded").get()
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    assert response["Location"] == reverse("generation:job", args=[job.pk])
    return job


def test_an_uploaded_image_is_stored_and_the_job_starts_from_it(owner_client, user):
    response = owner_client.post(GENERATE, FIELDS | {"source_file": upload(), "strength": "0.6"})

    job = the_job(response, user)
    source = SourceImage.objects.get(owner=user)
    assert (job.mode, job.source_upload, job.strength) == ("image", source, 0.6)
    assert (job.width, job.height) == (320, 256)  # the source's size
    assert len(stored_sources(user)) == 1


def test_a_gallery_image_can_be_the_source(owner_client, user):
    image = stored_image(user)

    job = the_job(owner_client.post(GENERATE, FIELDS | {"source_image": str(image.uuid), "strength": "0.3"}), user)

    assert (job.mode, job.source_image, job.strength) == ("image", image, 0.3)


def test_without_a_source_the_strength_is_ignored_and_the_job_is_text_to_image(owner_client, user):
    job = the_job(owner_client.post(GENERATE, FIELDS | {"strength": "0.6"}), user)

    assert (job.mode, job.source_upload, job.source_image) == ("text", None, None)


def field_errors(response, field: str) -> list[str]:
    assert response.status_code == 200
    return response.context["form"].errors.get(field, [])


def test_another_users_gallery_image_is_a_field_error(owner_client, user, other_user):
    theirs = stored_image(other_user)

    response = owner_client.post(GENERATE, FIELDS | {"source_image": str(theirs.uuid)})

    assert field_errors(response, "source_image") == ["No such image."]
    assert 'id="id_source_image_error"' in response.content.decode()
    assert nothing_stored(user)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"source_file": "upload:not-an-image"}, "source_file", "Upload a valid image"),
        ({"source_image": "not-a-uuid"}, "source_image", "Enter a valid UUID."),
        ({"source_file": "upload", "strength": "0.01"}, "strength", "greater than or equal to 0.05"),
        ({"source_file": "upload", "strength": "1.5"}, "strength", "less than or equal to 1"),
    ],
)
def test_bad_input_is_refused_next_to_its_field_and_stores_nothing(owner_client, user, fields, field, message):
    data = dict(fields)
    if data.get("source_file") == "upload":
        data["source_file"] = upload()
    elif data.get("source_file") == "upload:not-an-image":
        data["source_file"] = upload(b"%PDF-1.4 not an image", name="brief.png")

    response = owner_client.post(GENERATE, FIELDS | data)

    assert any(message in error for error in field_errors(response, field)), response.context["form"].errors
    assert nothing_stored(user)


def test_an_upload_and_a_gallery_pick_together_are_refused(owner_client, user):
    image = stored_image(user)

    response = owner_client.post(GENERATE, FIELDS | {"source_file": upload(), "source_image": str(image.uuid)})

    assert field_errors(response, "source_image") == ["Upload an image or pick one from your gallery, not both."]
    assert not SourceImage.objects.filter(owner=user).exists()


def test_an_upload_the_job_refuses_is_deleted_again(owner_client, user, set_tier, django_capture_on_commit_callbacks):
    set_tier("free", max_source_pixels=100 * 100)

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(GENERATE, FIELDS | {"source_file": upload(), "strength": "0.6"})

    assert field_errors(response, "source_file"), response.context["form"].errors
    assert nothing_stored(user)


def test_the_page_offers_the_users_own_recent_images_and_the_strength_slider(owner_client, user, other_user):
    mine, theirs = stored_image(user), stored_image(other_user)

    page = owner_client.get(GENERATE).content.decode()

    assert 'enctype="multipart/form-data"' in page and 'name="source_file"' in page
    assert f'value="{mine.uuid}"' in page and str(theirs.uuid) not in page
    assert 'type="range"' in page and 'min="0.05"' in page and 'max="1.0"' in page and 'value="0.6"' in page
    with translation.override("ko"):
        korean = owner_client.get(GENERATE, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "이미지에서 시작하기" in korean and "갤러리에서 선택" in korean


def test_run_again_keeps_the_source_and_strength(owner_client, user):
    image = stored_image(user)
    job = the_job(owner_client.post(GENERATE, FIELDS | {"source_image": str(image.uuid), "strength": "0.4"}), user)

    response = owner_client.post(reverse("generation:job-retry", args=[job.pk]))

    again = GenerationJob.objects.filter(owner=user).exclude(pk__in=[job.pk, image.job_id]).get()
    assert response["Location"] == reverse("generation:job", args=[again.pk])
    assert (again.mode, again.source_image, again.strength) == ("image", image, 0.4)


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def test_a_painted_mask_makes_the_job_an_inpaint_of_the_source(owner_client, user):
    image = stored_image(user)  # 256x256

    response = owner_client.post(
        GENERATE,
        FIELDS
        | {"source_image": str(image.uuid), "strength": "1", "mask": data_url(mask_png((256, 256), (0, 0, 128, 256)))},
    )

    job = the_job(response, user)
    assert (job.mode, job.source_image, job.mask.kind, job.strength) == ("inpaint", image, "mask", 1.0)
    assert (job.mask.width, job.mask.height) == (256, 256)


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (data_url(mask_png((512, 256), (0, 0, 10, 10))), "their shapes must match"),
        ("data:image/png;base64,@@@", "not valid base64"),
        ("https://example.com/mask.png", "PNG data URL"),
    ],
)
def test_a_bad_mask_is_a_mask_error_and_stores_nothing(
    owner_client, user, mask, message, django_capture_on_commit_callbacks
):
    image = stored_image(user)

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(GENERATE, FIELDS | {"source_image": str(image.uuid), "mask": mask})

    errors = field_errors(response, "mask")
    assert any(message in error for error in errors), response.context["form"].errors
    assert 'id="id_mask_error"' in response.content.decode()
    assert not GenerationJob.objects.filter(owner=user, mode="inpaint").exists()
    assert not SourceImage.objects.filter(owner=user).exists() and not stored_sources(user)
