"""Brand kits' writes, the styles a job resolves, and the prompt fragments of a kit."""

from __future__ import annotations

import re

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from brands import services
from brands.models import BrandKit, LogoApply
from generation.engine.models_catalog import SDXL, Z_IMAGE_TURBO

from ..conftest import errors_of
from ..factories import BrandKitFactory, StyleFactory, UserFactory, png_bytes

pytestmark = pytest.mark.django_db


def stored(folder: str) -> set[str]:
    return set(default_storage.listdir(folder)[1]) if default_storage.exists(folder) else set()


def kit_errors(owner, **fields) -> dict[str, list[str]]:
    return errors_of(lambda: services.brand_kit_create(owner=owner, **({"name": "Spring"} | fields)))


# --- brand kits ----------------------------------------------------------------------------------


def test_a_kit_keeps_its_palette_lower_case_each_colour_once(user):
    kit = services.brand_kit_create(owner=user, name="Spring", palette=["#1B2A4A", "#ff7f50", "#1b2a4a "])
    assert kit.palette == ["#1b2a4a", "#ff7f50"]


@pytest.mark.parametrize("palette", [["red"], ["#12345"], ["#1234567"], ["#gg0000"], [7], "#ffffff"])
def test_a_colour_that_is_not_rrggbb_is_refused_on_palette(user, palette):
    assert "palette" in kit_errors(user, palette=palette)
    assert not BrandKit.objects.exists()


def test_at_most_eight_colours(user):
    assert "palette" in kit_errors(user, palette=[f"#0000{n:02x}" for n in range(9)])
    assert (
        len(services.brand_kit_create(owner=user, name="Eight", palette=[f"#0000{n:02x}" for n in range(8)]).palette)
        == 8
    )


def test_names_are_unique_per_owner_ignoring_case(user, other_user):
    services.brand_kit_create(owner=user, name="Spring")
    assert "name" in kit_errors(user, name="spring ")
    assert services.brand_kit_create(owner=other_user, name="Spring").owner == other_user


def test_the_plan_limits_how_many_kits_an_owner_keeps(user, set_tier):
    set_tier("free", max_brand_kits=1)
    services.brand_kit_create(owner=user, name="One")
    errors = kit_errors(user, name="Two")
    assert "brand kits" in errors["name"][0]
    assert BrandKit.objects.filter(owner=user).count() == 1


def test_a_logo_is_stored_as_a_png_that_keeps_its_transparency_under_a_key_naming_no_user(user):
    logo = png_bytes((64, 32), color=(200, 30, 30, 128), mode="RGBA")
    kit = services.brand_kit_create(owner=user, name="Spring", logo=logo, logo_apply=LogoApply.ALL)
    key = str(kit.logo.name)
    assert re.fullmatch(r"brand-logos/[0-9a-f]{32}\.png", key), key
    with default_storage.open(key, "rb") as handle, Image.open(handle) as stored:
        assert (stored.format, stored.mode, stored.size) == ("PNG", "RGBA", (64, 32))
        assert stored.getpixel((3, 3)) == (200, 30, 30, 128)


@pytest.mark.parametrize(
    "logo",
    [b"GIF89a not really", b"%PDF-1.4 a document", png_bytes()[:40], b"<svg xmlns='http://www.w3.org/2000/svg'/>"],
    ids=["gif-header", "pdf", "truncated-png", "svg"],
)
def test_a_logo_that_is_not_an_image_is_refused_on_logo_and_nothing_is_stored(user, logo):
    before = stored("brand-logos")
    assert "logo" in kit_errors(user, logo=logo)
    assert not BrandKit.objects.exists()
    assert stored("brand-logos") == before


def test_a_huge_logo_is_refused_before_it_is_decoded(user, monkeypatch):
    monkeypatch.setattr(services, "LOGO_MAX_PIXELS", 100)
    assert "too large" in kit_errors(user, logo=png_bytes((20, 20)))["logo"][0]


def test_a_logo_on_outputs_needs_a_logo(user):
    assert "logo_apply" in kit_errors(user, logo_apply=LogoApply.ALL)
    assert "logo_apply" in kit_errors(user, logo_apply=LogoApply.PER_JOB)


@pytest.mark.parametrize(
    ("field", "value"),
    [("logo_margin", 0.3), ("logo_scale", 0.01), ("logo_scale", 0.6), ("logo_opacity", 0.0), ("logo_corner", "middle")],
)
def test_placement_outside_its_range_is_refused_on_its_field(user, field, value):
    assert field in kit_errors(user, **{field: value})


def test_default_styles_are_checked_as_a_jobs_are(user, other_user):
    mine, public = StyleFactory(owner=user), StyleFactory(base_model=SDXL)
    theirs = StyleFactory(owner=other_user)
    kit = services.brand_kit_create(
        owner=user, name="Autumn", default_styles=[{"id": mine.pk}, {"id": public.pk, "weight": -0.5}]
    )
    assert kit.default_styles == [{"id": mine.pk, "weight": 1.0}, {"id": public.pk, "weight": -0.5}]
    assert "default_styles" in kit_errors(user, default_styles=[{"id": theirs.pk}])
    assert "default_styles" in kit_errors(user, default_styles=[{"id": mine.pk, "weight": 2.5}])
    four = [{"id": StyleFactory().pk} for _ in range(4)]
    assert "default_styles" in kit_errors(user, default_styles=four)


def test_removing_the_logo_deletes_its_file_once_committed(user, django_capture_on_commit_callbacks):
    kit = services.brand_kit_create(owner=user, name="Spring", logo=png_bytes())
    key = str(kit.logo.name)
    with django_capture_on_commit_callbacks(execute=True):
        kit = services.brand_kit_update(kit=kit, logo=None)
    assert not kit.logo and not default_storage.exists(key)


def test_a_refused_update_changes_nothing(user):
    kit = services.brand_kit_create(owner=user, name="Spring", palette=["#ffffff"])
    assert "palette" in errors_of(lambda: services.brand_kit_update(kit=kit, name="Summer", palette=["white"]))
    kit.refresh_from_db()
    assert (kit.name, kit.palette) == ("Spring", ["#ffffff"])


def test_removing_a_logo_that_outputs_use_is_refused(user):
    kit = services.brand_kit_create(owner=user, name="Spring", logo=png_bytes(), logo_apply=LogoApply.ALL)
    assert "logo_apply" in errors_of(lambda: services.brand_kit_update(kit=kit, logo=None))


# --- the prompt fragments ------------------------------------------------------------------------


def test_a_kits_fragments_name_its_colours_by_css_names_then_its_tone_and_its_words_to_avoid():
    kit = BrandKit(
        palette=["#1b2a4a", "#ff7f50", "#fefefe"], tone_words="playful, confident", avoid_words="neon, clutter"
    )
    assert services.brand_prompt_fragments(kit=kit) == (
        "midnightblue, coral and white colour palette, tone: playful, confident",
        "neon, clutter",
    )


def test_one_colour_and_no_tone_make_a_short_fragment_and_an_empty_kit_none():
    assert services.brand_prompt_fragments(kit=BrandKit(palette=["#ff0000"])) == ("red colour palette", "")
    assert services.brand_prompt_fragments(kit=BrandKit()) == ("", "")
    assert services.brand_prompt_fragments(kit=None) == ("", "")


def test_two_colours_with_the_same_nearest_name_are_named_once():
    assert services.brand_prompt_fragments(kit=BrandKit(palette=["#000000", "#010101"]))[0] == "black colour palette"


# --- the styles a job resolves ---------------------------------------------------------------------


def test_resolved_styles_are_the_snapshot_in_the_order_asked(user):
    first, second = StyleFactory(default_weight=0.7), StyleFactory(owner=user, trigger_words="lnn style")
    resolved = services.resolve_styles(
        owner=user, requested=[{"id": second.pk, "weight": -1.5}, {"id": first.pk}], base_model=Z_IMAGE_TURBO
    )
    assert resolved == [
        {
            "id": second.pk,
            "name": second.name,
            "weight": -1.5,
            "trigger_words": "lnn style",
            "file": str(second.file.name),
            "sha256": second.sha256,
            "base_model": Z_IMAGE_TURBO,
        },
        {
            "id": first.pk,
            "name": first.name,
            "weight": 0.7,  # its default weight
            "trigger_words": first.trigger_words,
            "file": str(first.file.name),
            "sha256": first.sha256,
            "base_model": Z_IMAGE_TURBO,
        },
    ]


@pytest.mark.parametrize(
    "requested",
    [
        [{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}],
        [{"id": 1, "weight": 2.01}],
        [{"id": 1, "weight": -3}],
        [{"id": 1, "weight": "strong"}],
        [{"id": 1}, {"id": 1}],
        [{"style": 1}],
        [{"id": "1"}],
        {"id": 1},
    ],
    ids=["four", "over-2", "under-minus-2", "not-a-number", "twice", "no-id", "id-text", "not-a-list"],
)
def test_a_bad_list_of_styles_is_refused_on_styles(user, requested):
    assert "styles" in errors_of(
        lambda: services.resolve_styles(owner=user, requested=requested, base_model=Z_IMAGE_TURBO)
    )


def test_another_users_private_style_is_not_found(user, other_user):
    theirs = StyleFactory(owner=other_user)
    with pytest.raises(services.StyleNotFound) as error:
        services.resolve_styles(owner=user, requested=[{"id": theirs.pk}], base_model=Z_IMAGE_TURBO)
    assert (error.value.status_code, error.value.details()["fields"]) == (404, {"styles": [error.value.message]})


def test_a_style_for_the_other_base_model_is_refused_naming_both_models(user):
    style = StyleFactory(base_model=SDXL)
    message = errors_of(
        lambda: services.resolve_styles(owner=user, requested=[{"id": style.pk}], base_model=Z_IMAGE_TURBO)
    )["styles"][0]
    assert "Stable Diffusion XL" in message and "Z-Image-Turbo" in message


class TestPrecedence:
    """The job's own styles, else the template's, else the story's, else the kit's defaults."""

    def styles(self, user, **sources) -> list[int]:
        return [
            s["id"] for s in services.job_styles(owner=user, base_model=Z_IMAGE_TURBO, **({"styles": None} | sources))
        ]

    def test_each_source_gives_way_to_the_one_before_it(self, user):
        own, template, story, kit_style = (StyleFactory() for _ in range(4))
        kit = BrandKitFactory(owner=user, default_styles=[{"id": kit_style.pk, "weight": 1.0}])
        chain = {
            "styles": [{"id": own.pk}],
            "template_styles": [{"id": template.pk}],
            "story_styles": [{"id": story.pk}],
            "kit": kit,
        }
        assert self.styles(user, **chain) == [own.pk]
        assert self.styles(user, **(chain | {"styles": []})) == [template.pk]
        assert self.styles(user, **(chain | {"styles": None, "template_styles": []})) == [story.pk]
        assert self.styles(user, **(chain | {"styles": None, "template_styles": None, "story_styles": None})) == [
            kit_style.pk
        ]
        assert self.styles(user) == []

    def test_a_kit_applies_only_its_styles_made_for_the_jobs_model(self, user):
        turbo, sdxl = StyleFactory(), StyleFactory(base_model=SDXL)
        kit = BrandKitFactory(
            owner=user, default_styles=[{"id": sdxl.pk, "weight": 1.0}, {"id": turbo.pk, "weight": 0.5}]
        )
        assert self.styles(user, kit=kit) == [turbo.pk]

    def test_a_template_uses_public_styles_only(self, user):
        private = StyleFactory(owner=user)
        with pytest.raises(services.StyleNotFound) as error:
            self.styles(user, template_styles=[{"id": private.pk}])
        assert error.value.field == "template"


@pytest.mark.parametrize(
    ("logo_apply", "asked", "applied"),
    [
        (LogoApply.ALL, None, True),
        (LogoApply.ALL, False, True),
        (LogoApply.NONE, True, False),
        (LogoApply.PER_JOB, None, False),
        (LogoApply.PER_JOB, True, True),
    ],
)
def test_the_kit_decides_whether_its_logo_is_applied_a_per_job_kit_asks_the_job(user, logo_apply, asked, applied):
    kit = services.brand_kit_create(owner=user, name="Spring", logo=png_bytes(), logo_apply=logo_apply)
    assert services.job_apply_logo(kit=kit, apply_logo=asked) is applied


def test_a_logo_without_a_kit_is_refused_on_apply_logo():
    assert "apply_logo" in errors_of(lambda: services.job_apply_logo(kit=None, apply_logo=True))
    assert services.job_apply_logo(kit=None, apply_logo=None) is False


def test_another_users_kit_is_not_found_for_a_job(user):
    kit = BrandKitFactory(owner=UserFactory())
    with pytest.raises(services.BrandKitNotFound):
        services.brand_kit_for_job(user=user, kit_id=kit.pk)
    assert services.brand_kit_for_job(user=kit.owner, kit_id=kit.pk) == kit
