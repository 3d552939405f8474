"""Jobs that start from the customer's image: the mode follows from what is given, every input is checked at
submit (a refusal names its field, stores nothing and reserves nothing) and recorded on the job."""

import base64

import pytest

from accounts.models import CreditEntry
from gallery.models import SourceImage
from generation.engine.image_ops import steps_from_strength
from generation.models import GenerationJob
from generation.services import retry_job
from tests.conftest import client_for
from tests.factories import UserFactory, mask_png, source_upload, stored_image

pytestmark = pytest.mark.django_db

IMAGE_JOB = {"prompt": "the same bottle on marble", "production_path": "beauty", "steps": 4}


def post_job(user, **fields):
    return client_for(user).post("/api/v1/jobs", IMAGE_JOB | fields, format="json")


def accepted(response) -> dict:
    assert response.status_code == 202, response.content
    return response.json()


def refused_field(response, status: int = 400) -> list[str]:
    assert response.status_code == status, response.content
    return list(response.json()["error"]["fields"])


def nothing_reserved(user) -> bool:
    return (
        not GenerationJob.objects.filter(owner=user).exists()
        and not CreditEntry.objects.filter(user=user, kind="reservation").exists()
    )


def test_a_source_alone_is_image_to_image_at_its_own_size_and_default_strength(user):
    source = source_upload(user, size=(640, 480))

    body = accepted(post_job(user, source_image=str(source.uuid)))

    assert (body["mode"], body["source_image"], body["strength"]) == ("image", str(source.uuid), 0.6)
    assert (body["width"], body["height"]) == (640, 480)
    assert body["progress_total"] == steps_from_strength(4, 0.6)


def test_image_to_image_follows_a_requested_size(user):
    source = source_upload(user, size=(640, 480))

    body = accepted(post_job(user, source_image=str(source.uuid), size_preset="16:9", strength=0.3))

    assert (body["width"], body["height"], body["strength"]) == (1024, 576, 0.3)


def test_a_source_larger_than_the_model_draws_is_brought_within_its_sides(user):
    source = source_upload(user, size=(2400, 1200))

    body = accepted(post_job(user, source_image=str(source.uuid)))

    assert (body["width"], body["height"]) == (1536, 768)  # the free plan's largest side, aspect kept


def test_one_of_your_gallery_images_can_be_the_source(user):
    image = stored_image(user, width=256, height=256)

    body = accepted(post_job(user, source_image=str(image.uuid)))

    assert body["source_image"] == str(image.uuid)
    assert GenerationJob.objects.get(pk=body["id"]).source_image == image


@pytest.mark.parametrize("strength", [0.0, 0.01, 1.5, -1])
def test_a_strength_out_of_range_is_refused(user, strength):
    source = source_upload(user)

    assert refused_field(post_job(user, source_image=str(source.uuid), strength=strength)) == ["strength"]
    assert nothing_reserved(user)


def test_a_strength_without_a_source_is_refused(user):
    assert refused_field(post_job(user, strength=0.5)) == ["strength"]


def test_another_users_source_is_not_found_and_nothing_is_reserved(user, other_user):
    theirs = source_upload(other_user)

    response = post_job(user, source_image=str(theirs.uuid))

    assert refused_field(response, status=404) == ["source_image"]
    assert nothing_reserved(user)


def test_another_users_gallery_image_is_not_found(user, other_user):
    theirs = stored_image(other_user)

    assert refused_field(post_job(user, source_image=str(theirs.uuid)), status=404) == ["source_image"]


def test_a_source_larger_than_the_plan_allows_is_refused(user, set_tier):
    set_tier("free", max_source_pixels=100_000)
    source = source_upload(user, size=(400, 300))

    assert refused_field(post_job(user, source_image=str(source.uuid))) == ["source_image"]
    assert nothing_reserved(user)


def test_a_mask_makes_an_inpaint_at_the_sources_size(user):
    source = source_upload(user, size=(512, 384))
    mask = source_upload(user, size=(256, 192), kind="mask", color=255, mode="L")

    body = accepted(post_job(user, source_image=str(source.uuid), mask=str(mask.uuid)))

    assert (body["mode"], body["mask"], body["strength"]) == ("inpaint", str(mask.uuid), 1.0)
    assert (body["width"], body["height"]) == (512, 384)


def test_a_mask_of_another_shape_is_refused_on_the_mask(user):
    source = source_upload(user, size=(512, 384))
    mask = source_upload(user, size=(300, 300), kind="mask", color=255, mode="L")

    response = post_job(user, source_image=str(source.uuid), mask=str(mask.uuid))

    assert refused_field(response) == ["mask"]
    assert "300x300" in response.json()["error"]["message"]


def test_a_painted_mask_sent_as_a_data_url_is_stored_with_the_job(user):
    source = source_upload(user, size=(512, 384))
    data_url = "data:image/png;base64," + base64.b64encode(mask_png((512, 384), (100, 100, 300, 250))).decode()

    body = accepted(post_job(user, source_image=str(source.uuid), mask=data_url))

    mask = SourceImage.objects.get(uuid=body["mask"])
    assert (mask.kind, mask.owner, mask.width) == ("mask", user, 512)


def test_a_painted_mask_of_a_refused_job_is_not_kept(user):
    source = source_upload(user, size=(512, 384))
    data_url = "data:image/png;base64," + base64.b64encode(mask_png((100, 300), (0, 0, 50, 50))).decode()

    assert refused_field(post_job(user, source_image=str(source.uuid), mask=data_url)) == ["mask"]
    assert list(SourceImage.objects.filter(owner=user)) == [source]


@pytest.mark.parametrize("mask", ["data:image/png;base64,@@@", "data:text/plain;base64,aGk=", "not-an-id"])
def test_a_mask_that_is_neither_an_id_nor_a_png_data_url_is_refused(user, mask):
    source = source_upload(user)

    assert refused_field(post_job(user, source_image=str(source.uuid), mask=mask)) == ["mask"]
    assert nothing_reserved(user)


def test_another_users_mask_is_not_found(user, other_user):
    source = source_upload(user)
    theirs = source_upload(other_user, kind="mask")

    assert refused_field(post_job(user, source_image=str(source.uuid), mask=str(theirs.uuid)), status=404) == ["mask"]


def test_a_mask_cannot_be_the_source(user):
    mask = source_upload(user, kind="mask")

    assert refused_field(post_job(user, source_image=str(mask.uuid))) == ["source_image"]


def test_outpaint_extends_to_the_size_asked_with_its_anchor(user):
    source = source_upload(user, size=(512, 512))

    body = accepted(post_job(user, source_image=str(source.uuid), outpaint={"size_preset": "16:9", "anchor": "left"}))

    assert (body["mode"], body["outpaint_anchor"], body["width"], body["height"]) == ("outpaint", "left", 1024, 576)
    assert body["progress_total"] == 4  # the new area is drawn from noise: every step


def test_outpaint_needs_a_size_to_extend_to(user):
    source = source_upload(user)

    assert refused_field(post_job(user, source_image=str(source.uuid), outpaint={"anchor": "top"})) == ["outpaint"]


def test_outpaint_refuses_an_unknown_anchor(user):
    source = source_upload(user)

    response = post_job(user, source_image=str(source.uuid), outpaint={"anchor": "diagonal", "size_preset": "16:9"})

    assert refused_field(response) == ["outpaint"]


def test_an_upscale_is_exactly_the_factor_times_the_source_and_priced_by_output_megapixels(user):
    source = source_upload(user, size=(512, 384))

    body = accepted(post_job(user, source_image=str(source.uuid), upscale_factor=2))

    assert (body["mode"], body["width"], body["height"]) == ("upscale", 1024, 768)
    assert body["credit_cost"] == 1  # 0.79 megapixels, one started megapixel
    assert body["strength"] == 0.3


def test_an_upscale_past_the_plans_factor_is_refused(user):
    source = source_upload(user, size=(256, 256))

    assert refused_field(post_job(user, source_image=str(source.uuid), upscale_factor=4)) == ["upscale_factor"]
    assert nothing_reserved(user)


def test_an_upscale_past_the_largest_output_is_refused(user):
    pro = UserFactory(tier="pro")
    source = source_upload(pro, size=(1200, 800))

    assert refused_field(post_job(pro, source_image=str(source.uuid), upscale_factor=4)) == ["upscale_factor"]


def test_an_upscale_makes_one_image_at_its_own_size(user):
    source = source_upload(user, size=(256, 256))

    assert refused_field(post_job(user, source_image=str(source.uuid), upscale_factor=2, num_images=2)) == [
        "num_images"
    ]
    assert refused_field(post_job(user, source_image=str(source.uuid), upscale_factor=2, width=600)) == ["width"]


def test_a_retry_keeps_the_image_inputs(user):
    source = source_upload(user, size=(512, 384))
    job = GenerationJob.objects.get(pk=accepted(post_job(user, source_image=str(source.uuid), strength=0.45))["id"])
    GenerationJob.objects.filter(pk=job.pk).update(status="failed")

    retry = retry_job(job=job)

    assert (retry.mode, retry.source_upload, retry.strength, retry.width) == ("image", source, 0.45, 512)


# --- from a gallery image ------------------------------------------------------------------------


def test_variations_redraw_the_image_with_its_prompt_and_a_new_seed(user):
    image = stored_image(user, width=256, height=256, prompt="a red handbag")

    body = accepted(client_for(user).post(f"/api/v1/images/{image.uuid}/variations", {"num_images": 2}, format="json"))

    assert (body["mode"], body["source_image"], body["strength"]) == ("image", str(image.uuid), 0.35)
    assert (body["prompt"], body["num_images"]) == ("a red handbag", 2)


def test_strong_variations_move_further(user):
    image = stored_image(user, width=256, height=256)

    body = accepted(client_for(user).post(f"/api/v1/images/{image.uuid}/variations", {"strength": "strong"}))

    assert body["strength"] == 0.7


def test_variations_refuse_an_unknown_strength(user):
    image = stored_image(user, width=256, height=256)

    response = client_for(user).post(f"/api/v1/images/{image.uuid}/variations", {"strength": "wild"}, format="json")

    assert refused_field(response) == ["strength"]


def test_extend_puts_the_image_on_the_larger_canvas(user):
    image = stored_image(user, width=256, height=256)

    response = client_for(user).post(
        f"/api/v1/images/{image.uuid}/extend", {"size_preset": "16:9", "anchor": "right"}, format="json"
    )

    body = accepted(response)
    assert (body["mode"], body["outpaint_anchor"], body["width"], body["height"]) == ("outpaint", "right", 1024, 576)


def test_upscale_answers_its_cost_before_it_runs(user):
    image = stored_image(user, width=1024, height=1024)

    body = accepted(client_for(user).post(f"/api/v1/images/{image.uuid}/upscale", {"factor": 2}, format="json"))

    assert (body["width"], body["height"], body["credit_cost"]) == (2048, 2048, 4)


@pytest.mark.parametrize("action", ["variations", "extend", "upscale"])
def test_another_users_image_is_not_found_for_every_action(user, other_user, action):
    theirs = stored_image(other_user, width=256, height=256)

    response = client_for(user).post(f"/api/v1/images/{theirs.uuid}/{action}", {}, format="json")

    assert response.status_code == 404
    assert nothing_reserved(user)


def test_a_template_that_starts_from_an_image_asks_for_one(user):
    from templates_app.seed_templates import CURATED_TEMPLATES
    from tests.factories import TemplateFactory

    entry = next(entry for entry in CURATED_TEMPLATES if entry["slug"] == "product-on-marble")
    template = TemplateFactory(production_path="beauty", config=entry["config"])

    assert refused_field(post_job(user, template=template.slug)) == ["source_image"]
    source = source_upload(user, size=(512, 512))
    body = accepted(post_job(user, template=template.slug, source_image=str(source.uuid)))
    job = GenerationJob.objects.get(pk=body["id"])
    assert body["mode"] == "image"
    assert [node["node_type"] for node in job.workflow] == [
        "prompt_enhancement",
        "load_image",
        "generation",
        "save_image",
    ]


def banner_template():
    from templates_app.seed_templates import CURATED_TEMPLATES
    from tests.factories import TemplateFactory

    entry = next(entry for entry in CURATED_TEMPLATES if entry["slug"] == "banner-from-product-shot")
    return TemplateFactory(production_path="beauty", config=entry["config"])  # IMAGE_JOB's path


def test_a_template_that_extends_the_image_makes_an_outpaint_on_its_canvas(user):
    template = banner_template()
    source = source_upload(user, size=(512, 512))

    assert refused_field(post_job(user, template=template.slug)) == ["source_image"]
    body = accepted(post_job(user, template=template.slug, source_image=str(source.uuid)))

    job = GenerationJob.objects.get(pk=body["id"])
    assert (job.mode, job.outpaint_anchor, job.width, job.height) == ("outpaint", "center", 820, 312)
    assert job.credit_cost == template.credit_cost


def test_a_strength_with_an_extending_template_asks_for_a_redraw_instead(user):
    template = banner_template()
    source = source_upload(user, size=(512, 512))

    body = accepted(post_job(user, template=template.slug, source_image=str(source.uuid), strength=0.5))

    assert body["mode"] == "image"
