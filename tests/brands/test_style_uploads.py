"""Uploading a style: a real LoRA for the chosen base model is stored privately; anything else stores nothing."""

from __future__ import annotations

import hashlib
import io
import pickle
import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from brands import services
from brands.models import Style
from generation.engine.models_catalog import SDXL, Z_IMAGE_TURBO

from ..conftest import client_for, errors_of
from ..factories import lora_file

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def turbo_lora() -> bytes:
    return lora_file(Z_IMAGE_TURBO)


@pytest.fixture
def pro(user, set_tier):
    set_tier("pro")
    user.tier = "pro"
    user.save(update_fields=["tier"])
    return user


def upload(data: bytes, name: str = "linen.safetensors") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def stored_styles() -> set[str]:
    return set(default_storage.listdir("styles")[1]) if default_storage.exists("styles") else set()


def refusal(owner, data: bytes, *, name: str = "linen.safetensors", base_model: str = Z_IMAGE_TURBO) -> str:
    before = stored_styles()
    errors = errors_of(
        lambda: services.style_create(owner=owner, name="Linen", base_model=base_model, file=upload(data, name))
    )
    assert not Style.objects.exists() and stored_styles() == before
    return errors["file"][0]


def test_a_lora_is_stored_privately_under_a_key_naming_no_user_with_its_sha256(pro, turbo_lora):
    style = services.style_create(
        owner=pro, name="Linen", base_model=Z_IMAGE_TURBO, file=upload(turbo_lora), trigger_words="lnn ,cat"
    )
    key = str(style.file.name)
    assert re.fullmatch(r"styles/[0-9a-f]{32}\.safetensors", key), key
    assert (style.sha256, style.file_size) == (hashlib.sha256(turbo_lora).hexdigest(), len(turbo_lora))
    assert (style.owner, style.trigger_words, style.default_weight) == (pro, "lnn, cat", 1.0)
    with default_storage.open(key, "rb") as handle:
        assert handle.read() == turbo_lora


def test_staff_install_a_public_style_with_the_same_checks(turbo_lora):
    style = services.style_create(owner=None, name="Film grain", base_model=Z_IMAGE_TURBO, file=upload(turbo_lora))
    assert style.is_public
    errors = errors_of(
        lambda: services.style_create(owner=None, name="film grain", base_model=Z_IMAGE_TURBO, file=upload(turbo_lora))
    )
    assert "name" in errors  # one public library, one name each


def test_a_pickle_renamed_to_safetensors_is_refused_without_being_unpickled(pro):
    class Boom:
        def __reduce__(self):
            return (pytest.fail, ("the upload was unpickled",))

    assert refusal(pro, pickle.dumps({"lora_unet": Boom()}))


def test_a_torch_checkpoint_renamed_to_safetensors_is_refused(pro):
    import torch

    buffer = io.BytesIO()
    torch.save({"transformer.layers.0.attn.to_q.lora_A.weight": torch.zeros(4, 32)}, buffer)
    assert refusal(pro, buffer.getvalue())


@pytest.mark.parametrize("data", [b"", b"\x00" * 64, b"not a safetensors file at all", b"\xff" * 8 + b"{"])
def test_a_malformed_file_is_refused_on_file(pro, data):
    assert refusal(pro, data)


def test_a_lora_for_the_other_base_model_is_refused(pro, turbo_lora):
    assert refusal(pro, turbo_lora, base_model=SDXL)


def test_a_file_over_the_size_cap_is_refused_before_it_is_read(pro, turbo_lora, settings):
    settings.STYLE_MAX_UPLOAD_MB = len(turbo_lora) / (1024 * 1024) / 2
    assert "larger than" in refusal(pro, turbo_lora)


def test_another_extension_is_refused(pro, turbo_lora):
    assert ".safetensors" in refusal(pro, turbo_lora, name="linen.ckpt")


def test_the_plan_limits_how_many_private_styles_an_owner_keeps(pro, turbo_lora, set_tier):
    set_tier("pro", max_private_styles=1)
    services.style_create(owner=pro, name="One", base_model=Z_IMAGE_TURBO, file=upload(turbo_lora))
    errors = errors_of(
        lambda: services.style_create(owner=pro, name="Two", base_model=Z_IMAGE_TURBO, file=upload(turbo_lora))
    )
    assert "1 private styles" in errors["file"][0]
    assert Style.objects.filter(owner=pro).count() == 1


def test_an_upload_through_the_api_answers_the_style(pro, turbo_lora):

    body = {"file": upload(turbo_lora), "name": "Linen", "base_model": Z_IMAGE_TURBO, "default_weight": "0.8"}
    response = client_for(pro).post("/api/v1/styles", body, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["sha256"] == hashlib.sha256(turbo_lora).hexdigest()
    assert (response.json()["default_weight"], response.json()["public"]) == (0.8, False)


def test_a_pickle_through_the_api_is_a_400_on_file(pro):

    body = {"file": upload(pickle.dumps({"a": 1})), "name": "Linen", "base_model": Z_IMAGE_TURBO}
    response = client_for(pro).post("/api/v1/styles", body, format="multipart")
    assert response.status_code == 400 and "file" in response.json()["error"]["fields"]
    assert not Style.objects.exists()
