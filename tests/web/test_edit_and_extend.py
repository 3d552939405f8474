"""The generate page's Edit region (the image page's button: the image as the source, the painter open), its
"Extend to" picker with an anchor, the "Banner from product shot" template that extends the customer's shot, and
the estimate the page shows before submit, priced by the server's own rules (the same as the job it submits)."""

from __future__ import annotations

import base64
import json

import pytest
from django.urls import reverse

from accounts.models import CreditEntry
from gallery.models import SourceImage
from generation.models import GenerationJob
from templates_app.seed_templates import CURATED_TEMPLATES

from ..factories import TemplateFactory, mask_png, source_upload, stored_image
from .conftest import login

pytestmark = pytest.mark.django_db

GENERATE = reverse("generation:generate")
ESTIMATE = reverse("generation:generate-estimate")
FIELDS = {"production_path": "fashion", "prompt": "the same dress on a terrace", "num_images": "1", "steps": "2"}


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def the_job(response, user) -> GenerationJob:
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    job = GenerationJob.objects.filter(owner=user).exclude(status="succeeded").get()
    assert response["Location"] == reverse("generation:job", args=[job.pk])
    return job


def field_errors(response, field: str) -> list[str]:
    assert response.status_code == 200
    return response.context["form"].errors.get(field, [])


def nothing_stored(user) -> bool:
    return (
        not GenerationJob.objects.filter(owner=user).exclude(status="succeeded").exists()
        and not SourceImage.objects.filter(owner=user).exists()
        and not CreditEntry.objects.filter(user=user, kind="reservation").exists()
    )


def edit_url(image) -> str:
    return f"{GENERATE}?from_image={image.uuid}&edit=region"


def banner_template():
    entry = next(entry for entry in CURATED_TEMPLATES if entry["slug"] == "banner-from-product-shot")
    return TemplateFactory(**{**entry, "bounds": {}})


# --- Edit region ------------------------------------------------------------------------------------------------


def test_edit_region_prefills_the_image_as_the_source_with_the_painter_open(owner_client, user):
    image = stored_image(user, prompt="a red scarf on a chair", width=512, height=256)

    response = owner_client.get(edit_url(image))

    form = response.context["form"]
    assert form["source_image"].value() == str(image.uuid)
    assert form["prompt"].value() == "a red scarf on a chair"
    assert form["strength"].value() == 1.0  # the inpaint default: the painted region is redrawn in full
    assert not form["size_preset"].value()  # an inpaint keeps the image's size
    page = response.content.decode()
    assert "data-edit-region" in page
    urls = json.loads(page.split('id="source-urls" type="application/json">')[1].split("</script>")[0])
    assert str(image.uuid) in urls  # the painter can draw over it


def test_edit_region_of_an_image_older_than_the_picker_still_opens_the_painter_on_it(owner_client, user):
    old = stored_image(user)
    for _ in range(24):  # the picker lists the 24 most recent
        stored_image(user)

    page = owner_client.get(edit_url(old)).content.decode()

    urls = json.loads(page.split('id="source-urls" type="application/json">')[1].split("</script>")[0])
    assert str(old.uuid) in urls
    assert f'<option value="{old.uuid}" selected>This image</option>' in page


def test_edit_region_of_another_users_image_is_a_404(owner_client, other_user):
    theirs = stored_image(other_user)

    assert owner_client.get(edit_url(theirs)).status_code == 404
    assert owner_client.get(f"{GENERATE}?from_image=not-a-uuid&edit=region").status_code == 404


def test_an_edited_region_submits_an_inpaint_of_the_image_with_its_prompt(owner_client, user):
    image = stored_image(user, prompt="a red scarf on a chair", width=512, height=256)
    initial = owner_client.get(edit_url(image)).context["form"].initial
    fields = {name: value for name, value in initial.items() if value is not None}
    mask = data_url(mask_png((512, 256), (0, 0, 100, 256)))

    job = the_job(owner_client.post(GENERATE, fields | {"mask": mask}), user)

    assert (job.mode, job.source_image, job.strength) == ("inpaint", image, 1.0)
    assert (job.width, job.height, job.prompt) == (512, 256, "a red scarf on a chair")
    assert (job.mask.width, job.mask.height) == (512, 256)


def test_the_image_page_offers_edit_region_with_its_price(owner_client, image):
    page = owner_client.get(reverse("gallery:image", args=[image.uuid])).content.decode()

    assert f'href="{GENERATE}?from_image={image.uuid}&amp;edit=region"' in page
    assert "Edit region" in page


def test_edit_region_reads_in_korean(owner_client, image):
    page = owner_client.get(reverse("gallery:image", args=[image.uuid]), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    generate = owner_client.get(edit_url(image), HTTP_ACCEPT_LANGUAGE="ko").content.decode()

    assert "영역 편집" in page
    assert "확장할 크기" in generate and "키보드: 이미지에 포커스를" in generate


# --- Extend to --------------------------------------------------------------------------------------------------


def test_extend_to_makes_an_outpaint_of_the_source_on_the_chosen_canvas(owner_client, user):
    image = stored_image(user)

    response = owner_client.post(
        GENERATE,
        # The slider's value rides along with every form; an extended canvas is drawn in full, so it is not sent.
        FIELDS | {"source_image": str(image.uuid), "strength": "0.6", "extend_to": "16:9", "extend_anchor": "left"},
    )

    job = the_job(response, user)
    assert (job.mode, job.source_image, job.outpaint_anchor) == ("outpaint", image, "left")
    assert (job.width, job.height) == (1024, 576)


def test_extend_to_defaults_to_the_centre(owner_client, user):
    source = source_upload(user, size=(320, 256))

    job = the_job(owner_client.post(GENERATE, FIELDS | {"source_image": str(source.uuid), "extend_to": "1:1"}), user)

    assert (job.mode, job.outpaint_anchor, job.width, job.height) == ("outpaint", "center", 1024, 1024)


A_MASK = data_url(mask_png((256, 256), (0, 0, 10, 10)))


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"extend_to": "poster"}, "extend_to", "Select a valid choice"),
        ({"extend_to": "16:9", "extend_anchor": "middle"}, "extend_anchor", "Select a valid choice"),
        ({"extend_to": "16:9", "size_preset": "1:1"}, "size_preset", "inside outpaint"),
        ({"extend_to": "16:9", "mask": A_MASK}, "mask", "not with extend or upscale"),
    ],
)
def test_bad_extend_input_is_refused_next_to_its_field_and_stores_nothing(owner_client, user, fields, field, message):
    image = stored_image(user)

    errors = field_errors(owner_client.post(GENERATE, FIELDS | fields | {"source_image": str(image.uuid)}), field)

    assert any(message in error for error in errors), errors
    assert nothing_stored(user)


def test_extend_to_without_a_source_is_refused_on_the_picker(owner_client, user):
    errors = field_errors(owner_client.post(GENERATE, FIELDS | {"extend_to": "16:9"}), "extend_to")

    assert any("Give a source_image" in error for error in errors), errors
    assert nothing_stored(user)


def test_extend_to_from_another_users_image_is_a_field_error_and_stores_nothing(owner_client, user, other_user):
    theirs = stored_image(other_user)

    response = owner_client.post(GENERATE, FIELDS | {"source_image": str(theirs.uuid), "extend_to": "16:9"})

    assert field_errors(response, "source_image") == ["No such image."]
    assert nothing_stored(user)


# --- Banner from product shot -----------------------------------------------------------------------------------


def test_the_banner_template_asks_for_a_source_image(owner_client, user):
    template = banner_template()

    response = owner_client.post(GENERATE, {"template": template.slug, "prompt": "a sneaker", "num_images": "1"})

    assert any("starts from your image" in error for error in field_errors(response, "source_image"))
    assert nothing_stored(user)
    data = response.context["page_data"]["templates"][template.slug]
    assert (data["requires_source"], data["extends"]) == (True, True)  # the page says so before submit


def test_the_banner_template_extends_the_shot_to_its_banner_canvas(owner_client, user):
    template = banner_template()
    shot = source_upload(user, size=(512, 512))

    response = owner_client.post(
        GENERATE,
        {"template": template.slug, "prompt": "a sneaker", "num_images": "1", "source_image": str(shot.uuid)}
        | {"strength": "0.6"},  # the slider's value, not sent for an extended canvas
    )

    job = the_job(response, user)
    assert (job.mode, job.source_upload, job.outpaint_anchor) == ("outpaint", shot, "center")
    assert (job.width, job.height, job.template) == (820, 312, template)


def test_a_painted_region_with_the_banner_template_is_an_inpaint_of_the_shot(owner_client, user):
    template = banner_template()
    shot = source_upload(user, size=(512, 512))
    mask = data_url(mask_png((512, 512), (0, 0, 64, 64)))

    response = owner_client.post(
        GENERATE,
        {"template": template.slug, "prompt": "a sneaker", "num_images": "1", "source_image": str(shot.uuid)}
        | {"strength": "1", "mask": mask},
    )

    assert the_job(response, user).mode == "inpaint"


# --- The estimate before submit ---------------------------------------------------------------------------------


def estimate(client, **params) -> dict:
    response = client.get(ESTIMATE, params)
    assert response.status_code == 200, response.content
    return response.json()


def test_the_estimate_of_a_text_job_is_the_templates_price_per_image(owner_client, user):
    template = TemplateFactory(credit_cost=2, config={**TemplateFactory.build().config, "width": 512, "height": 768})

    body = estimate(owner_client, template=template.slug, num_images="3")

    assert (body["mode"], body["cost"], body["width"], body["height"]) == ("text", 6, 512, 768)
    assert body["balance_after"] == user.credit_balance - 6
    assert body["size_text"] == "512\N{MULTIPLICATION SIGN}768, 3 images"


def test_the_estimate_follows_the_source_the_mask_and_the_extend_picker(owner_client, user):
    image = stored_image(user, width=512, height=256)
    source = str(image.uuid)

    assert estimate(owner_client, source_image=source)["mode"] == "image"
    assert (estimate(owner_client, source_image=source)["width"], image.height) == (512, 256)
    assert estimate(owner_client, source_image=source, mask="on")["mode"] == "inpaint"
    extended = estimate(owner_client, source_image=source, extend_to="16:9")
    assert (extended["mode"], extended["width"], extended["height"]) == ("outpaint", 1024, 576)
    # An upload not sent yet is described by its size: a 3000 px shot is brought within the plan's 1536 px side.
    upload = estimate(owner_client, source_width="3000", source_height="1500")
    assert (upload["mode"], upload["width"], upload["height"]) == ("image", 1536, 768)


@pytest.mark.parametrize(
    "fields",
    [
        {"extend_to": "16:9"},
        {"mask": "on"},
        {},
        {"num_images": "3"},
    ],
)
def test_the_estimate_is_what_the_submitted_job_costs_and_its_size(owner_client, user, fields):
    template = TemplateFactory(credit_cost=3)
    image = stored_image(user, width=512, height=256)
    request = {"template": template.slug, "source_image": str(image.uuid), "num_images": "1"} | fields
    quoted = estimate(owner_client, **request)

    submitted = dict(request, prompt="a scarf")
    if fields.get("mask"):
        submitted["mask"] = data_url(mask_png((512, 256), (0, 0, 64, 64)))
    job = the_job(owner_client.post(GENERATE, submitted), user)

    assert (quoted["mode"], quoted["cost"]) == (job.mode, job.credit_cost)
    assert (quoted["width"], quoted["height"]) == (job.width, job.height)


def test_the_estimate_of_the_banner_template_is_its_outpaint_canvas(owner_client, user):
    template = banner_template()
    shot = source_upload(user, size=(512, 512))

    body = estimate(owner_client, template=template.slug, source_image=str(shot.uuid))

    assert (body["mode"], body["cost"], body["width"], body["height"]) == ("outpaint", 1, 820, 312)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"num_images": "9"}, "num_images"),
        ({"steps": "-1"}, "steps"),
        ({"extend_to": "poster"}, "extend_to"),
        ({"source_width": "300"}, "source_width"),
        ({"source_image": "not-a-uuid"}, "source_image"),
        ({"template": "no-such-template"}, "template"),
    ],
)
def test_bad_estimate_input_is_a_400_naming_the_field(owner_client, params, field):
    response = owner_client.get(ESTIMATE, params)

    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_the_estimate_of_another_users_image_is_a_404(owner_client, other_user):
    theirs = stored_image(other_user)

    response = owner_client.get(ESTIMATE, {"source_image": str(theirs.uuid)})

    assert response.status_code == 404
    assert "source_image" in response.json()["errors"]


def test_the_estimate_needs_a_signed_in_user(client, user):
    response = client.get(ESTIMATE)

    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
    assert login(user).get(ESTIMATE).status_code == 200


def test_the_estimates_text_reads_in_korean(owner_client, user):
    response = owner_client.get(ESTIMATE, {"num_images": "3"}, HTTP_ACCEPT_LANGUAGE="ko")

    body = response.json()
    assert body["size_text"].endswith("이미지 3장")
    assert body["after_text"] == f"{user.credit_balance - 3} 크레딧"
