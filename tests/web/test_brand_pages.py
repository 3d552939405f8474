"""The website's styles and brand-kit pages, the generate page's style picker and kit selector, and an image's
two downloads: each form goes through brands.services (their refusals next to the field, nothing stored), and
another user's style or kit is a 404."""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image

from brands.models import BrandKit, LogoApply, LogoCorner, Style
from brands.services import brand_kit_create
from generation.models import GenerationJob

from ..factories import BrandKitFactory, StyleFactory, png_bytes, stored_image
from .conftest import login

pytestmark = pytest.mark.django_db

STYLES = reverse("brands:styles")
KITS = reverse("brands:kits")
NEW_KIT = reverse("brands:kit-create")
GENERATE = reverse("generation:generate")


def logo_upload(name: str = "logo.png", size: tuple[int, int] = (64, 32)):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, png_bytes(size, color=(255, 0, 0, 160), mode="RGBA"), content_type="image/png")


def kit_fields(**fields) -> dict:
    return {
        "name": "Acme",
        "palette": "#1A2B3C, #ffffff",
        "tone_words": "warm, confident",
        "avoid_words": "clutter",
        "logo_corner": LogoCorner.TOP_LEFT,
        "logo_margin": "0.05",
        "logo_scale": "0.2",
        "logo_opacity": "0.8",
        "logo_apply": LogoApply.NONE,
    } | fields


# --- styles -----------------------------------------------------------------------------------------


def test_the_style_library_shows_public_and_own_styles_but_not_anothers(owner_client, user, other_user):
    StyleFactory(name="Film grain")
    StyleFactory(name="Our look", owner=user)
    StyleFactory(name="Their secret", owner=other_user)

    body = owner_client.get(STYLES).content.decode()

    assert "Film grain" in body and "Our look" in body
    assert "Their secret" not in body


def test_a_style_upload_that_is_not_safetensors_is_refused_on_file_and_stores_nothing(owner_client, set_tier):
    from django.core.files.uploadedfile import SimpleUploadedFile

    set_tier("free", max_private_styles=5)
    pickle = SimpleUploadedFile("look.safetensors", b"\x80\x04\x95" + b"\x00" * 64)

    response = owner_client.post(
        STYLES, {"name": "Look", "base_model": "Tongyi-MAI/Z-Image-Turbo", "file": pickle, "default_weight": "1"}
    )

    assert response.status_code == 400
    assert response.context["form"].errors["file"]
    assert 'id="id_file_error"' in response.content.decode()
    assert Style.objects.count() == 0


def test_a_style_weight_outside_minus_two_to_two_is_refused_on_its_field(owner_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = owner_client.post(
        STYLES,
        {
            "name": "Look",
            "base_model": "Tongyi-MAI/Z-Image-Turbo",
            "file": SimpleUploadedFile("look.safetensors", b"x"),
            "default_weight": "3",
        },
    )

    assert response.status_code == 400
    assert "default_weight" in response.context["form"].errors
    assert Style.objects.count() == 0


def test_an_owner_deletes_their_style(owner_client, user):
    style = StyleFactory(owner=user)

    response = owner_client.post(reverse("brands:style-delete", args=[style.pk]))

    assert response.status_code == 302
    assert not Style.objects.filter(pk=style.pk).exists()


@pytest.mark.parametrize("whose", ["public", "another user's"])
def test_a_public_or_another_users_style_cannot_be_deleted(owner_client, other_user, whose):
    style = StyleFactory(owner=other_user if whose == "another user's" else None)

    response = owner_client.post(reverse("brands:style-delete", args=[style.pk]))

    assert response.status_code == 404
    assert Style.objects.filter(pk=style.pk).exists()


# --- brand kits -------------------------------------------------------------------------------------


def test_a_kit_is_created_with_its_palette_words_and_logo(owner_client, user):
    response = owner_client.post(NEW_KIT, kit_fields(logo=logo_upload(), logo_apply=LogoApply.ALL))

    kit = BrandKit.objects.get(owner=user)
    assert response.status_code == 302 and response.url == reverse("brands:kit-edit", args=[kit.pk])
    assert kit.palette == ["#1a2b3c", "#ffffff"]
    assert (kit.tone_words, kit.avoid_words) == ("warm, confident", "clutter")
    assert (kit.logo_corner, kit.logo_margin, kit.logo_scale, kit.logo_opacity) == ("top-left", 0.05, 0.2, 0.8)
    with default_storage.open(kit.logo.name) as stored, Image.open(stored) as logo:
        assert (logo.format, logo.mode, logo.size) == ("PNG", "RGBA", (64, 32))


def test_a_kit_with_nine_colours_is_refused_on_palette(owner_client):
    colours = ", ".join(f"#0000{n:02x}" for n in range(9))

    response = owner_client.post(NEW_KIT, kit_fields(palette=colours))

    assert response.status_code == 400
    assert "palette" in response.context["form"].errors
    assert BrandKit.objects.count() == 0


def test_a_logo_that_is_not_an_image_is_refused_on_logo(owner_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = owner_client.post(NEW_KIT, kit_fields(logo=SimpleUploadedFile("logo.png", b"not a picture")))

    assert response.status_code == 400
    assert "logo" in response.context["form"].errors
    assert BrandKit.objects.count() == 0


def test_the_kit_page_shows_the_live_preview_with_the_kits_logo(owner_client, user):
    kit = brand_kit_create(owner=user, name="Acme", logo=png_bytes((40, 40), color=(0, 0, 0, 0), mode="RGBA"))

    body = owner_client.get(reverse("brands:kit-edit", args=[kit.pk])).content.decode()

    assert "data-logo-preview" in body and 'data-logo-url="/media/files/' in body
    assert "js/brands.js" in body


def test_editing_a_kit_keeps_its_logo_unless_removed(owner_client, user):
    kit = brand_kit_create(owner=user, name="Acme", logo=png_bytes((40, 40), mode="RGBA", color=(1, 2, 3, 255)))
    edit = reverse("brands:kit-edit", args=[kit.pk])

    owner_client.post(edit, kit_fields(name="Acme 2", logo_apply=LogoApply.PER_JOB))
    kit.refresh_from_db()
    assert (kit.name, kit.logo_apply, bool(kit.logo)) == ("Acme 2", "per_job", True)
    assert kit.logo_corner == "top-left"

    owner_client.post(edit, kit_fields(name="Acme 2", logo_apply=LogoApply.NONE, remove_logo="on"))
    kit.refresh_from_db()
    assert not kit.logo


def test_kits_default_styles_come_from_the_picker_with_their_weights(owner_client, user):
    style = StyleFactory()

    owner_client.post(NEW_KIT, kit_fields(styles=[str(style.pk)], **{f"style_weight_{style.pk}": "-0.5"}))

    assert BrandKit.objects.get(owner=user).default_styles == [{"id": style.pk, "weight": -0.5}]


def test_another_users_kit_is_a_404_to_view_edit_or_delete(owner_client, other_user):
    kit = BrandKitFactory(owner=other_user)

    assert owner_client.get(reverse("brands:kit-edit", args=[kit.pk])).status_code == 404
    assert owner_client.post(reverse("brands:kit-edit", args=[kit.pk]), kit_fields()).status_code == 404
    assert owner_client.post(reverse("brands:kit-delete", args=[kit.pk])).status_code == 404
    assert BrandKit.objects.get(pk=kit.pk).name == kit.name


def test_an_owner_deletes_their_kit(owner_client, user):
    kit = BrandKitFactory(owner=user)

    response = owner_client.post(reverse("brands:kit-delete", args=[kit.pk]))

    assert response.status_code == 302 and response.url == KITS
    assert not BrandKit.objects.filter(pk=kit.pk).exists()


def test_the_kit_list_shows_each_kit_with_its_palette(owner_client, user, other_user):
    BrandKitFactory(owner=user, name="Acme", palette=["#112233"])
    BrandKitFactory(owner=other_user, name="Rival")

    body = owner_client.get(KITS).content.decode()

    assert "Acme" in body and 'fill="#112233"' in body
    assert "Rival" not in body


# --- the generate page ------------------------------------------------------------------------------


def generate(client, **fields):
    data = {"production_path": "fashion", "prompt": "a linen summer dress", "num_images": "1"} | fields
    return client.post(GENERATE, data)


def test_the_generate_page_offers_the_users_styles_and_kits(owner_client, user, other_user):
    StyleFactory(name="Film grain")
    BrandKitFactory(owner=user, name="Acme")
    BrandKitFactory(owner=other_user, name="Rival")
    StyleFactory(name="Their secret", owner=other_user)

    body = owner_client.get(GENERATE).content.decode()

    assert "data-style-picker" in body and "Film grain" in body and "Acme" in body
    assert "Rival" not in body and "Their secret" not in body


def test_a_job_from_the_generate_page_records_its_styles_kit_and_logo_choice(owner_client, user):
    style = StyleFactory(name="Film grain", trigger_words="grainy film")
    kit = brand_kit_create(owner=user, name="Acme", logo=png_bytes((40, 40), mode="RGBA"), logo_apply=LogoApply.PER_JOB)

    response = generate(
        owner_client,
        styles=[str(style.pk)],
        **{f"style_weight_{style.pk}": "0.75"},
        brand_kit=str(kit.pk),
        apply_logo="on",
    )

    job = GenerationJob.objects.get()
    assert response.status_code == 302, response.context["form"].errors
    assert [(s["id"], s["weight"]) for s in job.styles] == [(style.pk, 0.75)]
    assert (job.brand_kit_id, job.apply_logo) == (kit.pk, True)


def test_more_than_three_styles_are_refused_on_styles(owner_client):
    styles = [StyleFactory() for _ in range(4)]

    response = generate(owner_client, styles=[str(style.pk) for style in styles])

    assert response.status_code == 200
    assert "styles" in response.context["form"].errors
    assert GenerationJob.objects.count() == 0


def test_another_users_private_style_or_kit_is_refused_and_stores_nothing(owner_client, other_user):
    style = StyleFactory(owner=other_user)
    kit = BrandKitFactory(owner=other_user)

    response = generate(owner_client, styles=[str(style.pk)], brand_kit=str(kit.pk))

    errors = response.context["form"].errors
    assert "styles" in errors and "brand_kit" in errors
    assert GenerationJob.objects.count() == 0


# --- an image's downloads ---------------------------------------------------------------------------


def logoed_image(user):
    """A stored image with a logo composited on `file` and the model's picture kept as `original_file`."""
    from brands.logo import composite_logo
    from gallery.services import store_generated_image

    from ..factories import GenerationJobFactory

    kit = brand_kit_create(owner=user, name="Acme", logo=png_bytes((40, 40), mode="RGBA"), logo_apply=LogoApply.ALL)
    job = GenerationJobFactory(owner=user, succeeded=True, brand_kit=kit, apply_logo=True)
    drawn = Image.new("RGB", (job.width, job.height), (10, 120, 200))
    logo = Image.open(io.BytesIO(png_bytes((40, 40), mode="RGBA")))
    return store_generated_image(
        job=job,
        index=0,
        image=composite_logo(drawn, logo, corner="top-left", margin=0, scale=0.5, opacity=1),
        original=drawn,
        prompt_used=job.prompt,
        negative_prompt_used="",
        seed=job.seed,
        backend="tiny",
        generation_seconds=0.1,
    )


def test_the_image_page_offers_both_downloads_and_names_the_kit(owner_client, user):
    image = logoed_image(user)

    body = owner_client.get(reverse("gallery:image", args=[image.uuid])).content.decode()

    assert 'data-download="logo"' in body and 'data-download="original"' in body
    assert "Acme" in body


def test_an_image_without_a_logo_has_one_download(owner_client, image):
    body = owner_client.get(reverse("gallery:image", args=[image.uuid])).content.decode()

    assert 'data-download="image"' in body and 'data-download="original"' not in body


def test_the_api_downloads_the_original_only_for_its_owner(api_client, user, other_user):
    from ..conftest import client_for

    image = logoed_image(user)
    url = f"/api/v1/images/{image.uuid}/download?redirect=false"

    logoed = api_client.get(url).json()["url"]
    original = api_client.get(f"{url}&variant=original").json()["url"]

    with default_storage.open(image.original_file.name) as stored:
        assert stored.read() == login(user).get(original).getvalue()
    assert logoed != original
    assert client_for(other_user).get(f"{url}&variant=original").status_code == 404


def test_the_api_has_no_original_for_an_image_without_a_logo(api_client, user):
    image = stored_image(user)

    response = api_client.get(f"/api/v1/images/{image.uuid}/download?redirect=false&variant=original")

    assert response.status_code == 404
