"""/api/v1/styles and /api/v1/brand-kits: listing, ownership, edits, and the error shape of bad input."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from brands.models import BrandKit, LogoApply, Style

from ..conftest import client_for
from ..factories import BrandKitFactory, GenerationJobFactory, StyleFactory, png_bytes

pytestmark = pytest.mark.django_db


def field_error(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content
    return response.json()["error"]["fields"]


# --- styles ----------------------------------------------------------------------------------------


def test_the_list_has_the_public_library_and_your_own_styles_never_anothers(api_client, user, other_user):
    public, mine = StyleFactory(name="A public"), StyleFactory(owner=user, name="B mine")
    StyleFactory(owner=other_user, name="C theirs")
    body = api_client.get("/api/v1/styles").json()
    assert [(item["id"], item["public"]) for item in body["results"]] == [(public.pk, True), (mine.pk, False)]
    assert "file" not in body["results"][0]  # the storage key is the worker's, never shown


def test_another_users_private_style_is_a_404_for_every_method(api_client, other_user):
    theirs = StyleFactory(owner=other_user)
    for method in ("get", "patch", "delete"):
        response = getattr(api_client, method)(f"/api/v1/styles/{theirs.pk}", {"name": "x"}, format="json")
        assert response.status_code == 404, method
    assert Style.objects.get(pk=theirs.pk).name == theirs.name


def test_a_public_style_is_read_only_for_users(api_client):
    public = StyleFactory()
    assert api_client.get(f"/api/v1/styles/{public.pk}").json()["public"] is True
    assert api_client.patch(f"/api/v1/styles/{public.pk}", {"name": "Mine now"}, format="json").status_code == 403
    assert api_client.delete(f"/api/v1/styles/{public.pk}").status_code == 403
    assert Style.objects.filter(pk=public.pk, name=public.name).exists()


def test_you_rename_and_reweigh_your_style(api_client, user):
    style = StyleFactory(owner=user)
    response = api_client.patch(
        f"/api/v1/styles/{style.pk}", {"name": "Linen 2", "default_weight": -0.5, "trigger_words": "lnn"}, format="json"
    )
    assert response.status_code == 200, response.content
    style.refresh_from_db()
    assert (style.name, style.default_weight, style.trigger_words) == ("Linen 2", -0.5, "lnn")


@pytest.mark.parametrize(
    ("body", "field"),
    [({"default_weight": 2.5}, "default_weight"), ({"base_model": "sdxl"}, "base_model"), ({"name": ""}, "name")],
)
def test_a_bad_edit_is_a_400_naming_the_field(api_client, user, body, field):
    style = StyleFactory(owner=user)
    assert field in field_error(api_client.patch(f"/api/v1/styles/{style.pk}", body, format="json"))


def test_a_style_an_unfinished_job_uses_cannot_be_deleted_until_it_finishes(api_client, user):
    style = StyleFactory(owner=user)
    job = GenerationJobFactory(owner=user, status="queued", styles=[{"id": style.pk, "weight": 1.0}])
    response = api_client.delete(f"/api/v1/styles/{style.pk}")
    assert response.status_code == 409 and response.json()["error"]["code"] == "style_in_use"
    job.status, job.finished_at = "succeeded", job.created_at
    job.save()
    assert api_client.delete(f"/api/v1/styles/{style.pk}").status_code == 204
    assert not Style.objects.filter(pk=style.pk).exists()


def test_an_upload_that_is_not_safetensors_by_name_is_refused_on_file(api_client, set_tier):
    set_tier("free", max_private_styles=5)
    upload = SimpleUploadedFile("style.ckpt", b"\x80\x04K\x01.", content_type="application/octet-stream")
    body = {"file": upload, "name": "Old", "base_model": "Tongyi-MAI/Z-Image-Turbo"}
    assert "file" in field_error(api_client.post("/api/v1/styles", body, format="multipart"))
    assert not Style.objects.exists()


def test_the_free_plan_has_no_private_styles(api_client):
    upload = SimpleUploadedFile("style.safetensors", b"{}", content_type="application/octet-stream")
    body = {"file": upload, "name": "Mine", "base_model": "Tongyi-MAI/Z-Image-Turbo"}
    errors = field_error(api_client.post("/api/v1/styles", body, format="multipart"))
    assert "public style library only" in errors["file"][0] and not Style.objects.exists()


def test_an_upload_without_its_fields_names_them(api_client):
    errors = field_error(api_client.post("/api/v1/styles", {"name": "x"}, format="multipart"))
    assert {"file", "base_model"} <= set(errors)


# --- brand kits --------------------------------------------------------------------------------------


def test_a_kit_is_made_from_json_and_read_back(api_client, user):
    style = StyleFactory()
    body = {
        "name": "Spring",
        "palette": ["#1B2A4A", "#ff7f50"],
        "tone_words": "playful,confident",
        "avoid_words": "neon",
        "default_styles": [{"id": style.pk, "weight": 0.5}],
        "logo_corner": "top-left",
    }
    response = api_client.post("/api/v1/brand-kits", body, format="json")
    assert response.status_code == 201, response.content
    kit = response.json()
    assert (kit["palette"], kit["tone_words"], kit["logo_url"]) == (["#1b2a4a", "#ff7f50"], "playful, confident", None)
    assert kit["default_styles"] == [{"id": style.pk, "weight": 0.5}]
    assert api_client.get(f"/api/v1/brand-kits/{kit['id']}").json() == kit


def test_a_logo_is_sent_multipart_and_answered_as_a_signed_url(api_client, user, set_tier):
    kit = BrandKitFactory(owner=user)
    logo = SimpleUploadedFile("logo.png", png_bytes((40, 20), color=(0, 0, 0, 0), mode="RGBA"), "image/png")
    response = api_client.patch(
        f"/api/v1/brand-kits/{kit.pk}", {"logo": logo, "logo_apply": "per_job"}, format="multipart"
    )
    assert response.status_code == 200, response.content
    assert response.json()["logo_url"] and response.json()["logo_apply"] == LogoApply.PER_JOB
    kit.refresh_from_db()
    with default_storage.open(str(kit.logo.name), "rb") as handle, Image.open(handle) as stored:
        assert stored.mode == "RGBA"


def test_a_logo_that_is_not_an_image_is_a_400_on_logo_and_nothing_changes(api_client, user):
    kit = BrandKitFactory(owner=user)
    fake = SimpleUploadedFile("logo.png", b"<?php echo 1; ?>", "image/png")
    assert "logo" in field_error(api_client.patch(f"/api/v1/brand-kits/{kit.pk}", {"logo": fake}, format="multipart"))
    kit.refresh_from_db()
    assert not kit.logo


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"palette": ["blue"]}, "palette"),
        ({"palette": [f"#00000{n}" for n in range(9)]}, "palette"),
        ({"default_styles": [{"id": 1, "weight": 3}]}, "default_styles"),
        ({"default_styles": [{"id": n} for n in range(1, 5)]}, "default_styles"),
        ({"logo_scale": 0.9}, "logo_scale"),
        ({"logo_apply": "all"}, "logo_apply"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_kit_input_is_a_400_naming_the_field_and_stores_nothing(api_client, body, field):
    assert field in field_error(api_client.post("/api/v1/brand-kits", {"name": "Spring", **body}, format="json"))
    assert not BrandKit.objects.exists()


def test_another_users_private_style_in_a_kit_is_a_400_on_default_styles(api_client, other_user):
    theirs = StyleFactory(owner=other_user)
    body = {"name": "Spring", "default_styles": [{"id": theirs.pk}]}
    assert "default_styles" in field_error(api_client.post("/api/v1/brand-kits", body, format="json"))


def test_the_plan_limits_the_number_of_kits(api_client, user, set_tier):
    set_tier("free", max_brand_kits=1)
    BrandKitFactory(owner=user)
    assert "name" in field_error(api_client.post("/api/v1/brand-kits", {"name": "Second"}, format="json"))
    assert BrandKit.objects.filter(owner=user).count() == 1


def test_another_users_kit_is_a_404(api_client, other_user):
    theirs = BrandKitFactory(owner=other_user)
    for method in ("get", "patch", "delete"):
        assert getattr(api_client, method)(f"/api/v1/brand-kits/{theirs.pk}", {}, format="json").status_code == 404
    assert BrandKit.objects.filter(pk=theirs.pk).exists()


def test_the_list_is_yours_only(api_client, user, other_user):
    mine = BrandKitFactory(owner=user)
    BrandKitFactory(owner=other_user)
    assert [kit["id"] for kit in api_client.get("/api/v1/brand-kits").json()["results"]] == [mine.pk]
    assert client_for(other_user).get("/api/v1/brand-kits").json()["count"] == 1


def test_a_kit_is_deleted_with_its_logo(api_client, user, django_capture_on_commit_callbacks):
    response = api_client.post("/api/v1/brand-kits", {"name": "Spring"}, format="json")
    kit_id = response.json()["id"]
    logo = SimpleUploadedFile("logo.png", png_bytes(), "image/png")
    api_client.patch(f"/api/v1/brand-kits/{kit_id}", {"logo": logo}, format="multipart")
    key = str(BrandKit.objects.get(pk=kit_id).logo.name)
    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.delete(f"/api/v1/brand-kits/{kit_id}").status_code == 204
    assert not BrandKit.objects.filter(pk=kit_id).exists() and not default_storage.exists(key)
