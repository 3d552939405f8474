"""Staff install public styles in the admin, through the checks a user's upload goes through."""

from __future__ import annotations

import pickle

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from brands.models import Style
from generation.engine.models_catalog import Z_IMAGE_TURBO

from ..factories import lora_file, png_bytes

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/brands/style/add/"


def form(data: bytes, **fields) -> dict:
    return {
        "name": "Film grain",
        "base_model": Z_IMAGE_TURBO,
        "trigger_words": "grainy film",
        "default_weight": "0.8",
        "upload": SimpleUploadedFile("grain.safetensors", data),
        **fields,
    }


def test_staff_install_a_public_style_with_a_preview(staff_client):
    preview = SimpleUploadedFile("preview.png", png_bytes((64, 64)), content_type="image/png")
    response = staff_client.post(ADD_URL, form(lora_file(Z_IMAGE_TURBO), preview_upload=preview))
    assert response.status_code == 302, response.content.decode()[:2000]
    style = Style.objects.get()
    assert (style.owner, style.name, style.default_weight, style.trigger_words) == (
        None,
        "Film grain",
        0.8,
        "grainy film",
    )
    assert str(style.preview.name).startswith("style-previews/") and len(style.sha256) == 64


def test_a_pickle_is_refused_on_the_upload_field_and_nothing_is_stored(staff_client):
    response = staff_client.post(ADD_URL, form(pickle.dumps({"weights": [0.0]})))
    assert response.status_code == 200 and "upload" in response.context["adminform"].form.errors
    assert not Style.objects.exists()


def test_a_style_is_renamed_in_the_admin_but_its_file_stays(staff_client):
    staff_client.post(ADD_URL, form(lora_file(Z_IMAGE_TURBO)))
    style = Style.objects.get()
    key = str(style.file.name)
    response = staff_client.post(
        f"/admin/brands/style/{style.pk}/change/", {"name": "Grain", "trigger_words": "", "default_weight": "1.5"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    style.refresh_from_db()
    assert (style.name, style.default_weight, str(style.file.name)) == ("Grain", 1.5, key)
