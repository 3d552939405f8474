"""The image page's Vary (subtle/strong), Upscale and Extend to… forms: each a CSRF-protected POST through the
generation services that sends the browser to the new job's live page; a refusal comes back on the image's page
next to its field with nothing stored; another user's image is a 404."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.models import CreditEntry
from generation.models import GenerationJob

from .conftest import login

pytestmark = pytest.mark.django_db


def action_url(name: str, image) -> str:
    return reverse(f"generation:image-{name}", args=[image.uuid])


def new_job(response, image) -> GenerationJob:
    """The job the action made, after checking the browser is sent to its page."""
    job = GenerationJob.objects.exclude(pk=image.job_id).get()
    assert response.status_code == 302, response.content[:2000]
    assert response["Location"] == reverse("generation:job", args=[job.pk])
    return job


def nothing_stored(image) -> bool:
    jobs = GenerationJob.objects.exclude(pk=image.job_id)
    return not jobs.exists() and not CreditEntry.objects.filter(kind="reservation").exists()


@pytest.mark.parametrize(("strength", "value"), [("subtle", 0.35), ("strong", 0.7)])
def test_vary_makes_an_image_to_image_job_from_the_image(owner_client, image, strength, value):
    job = new_job(owner_client.post(action_url("vary", image), {"strength": strength}), image)

    assert (job.mode, job.source_image, job.strength, job.num_images) == ("image", image, value, 1)
    assert job.prompt == image.job.prompt and job.seed != image.job.seed
    page = owner_client.get(reverse("generation:job", args=[job.pk])).content.decode()
    assert "Image to image" in page and f'data-field="strength">{value:.2f}</dd>' in page
    assert reverse("gallery:image", args=[image.uuid]) in page


def test_upscale_makes_a_job_exactly_twice_the_image(owner_client, image):
    job = new_job(owner_client.post(action_url("upscale", image), {"factor": "2"}), image)

    assert (job.mode, job.upscale_factor, job.width, job.height) == ("upscale", 2, image.width * 2, image.height * 2)


def test_extend_places_the_image_on_the_chosen_canvas(owner_client, image):
    response = owner_client.post(action_url("extend", image), {"size_preset": "16:9", "anchor": "left"})
    job = new_job(response, image)

    assert (job.mode, job.outpaint_anchor, job.width, job.height) == ("outpaint", "left", 1024, 576)
    page = owner_client.get(reverse("gallery:image", args=[image.uuid])).content.decode()
    assert "Extend to…" in page


def test_the_image_page_offers_each_action_with_its_price_before_submit(owner_client, image):
    page = owner_client.get(reverse("gallery:image", args=[image.uuid])).content.decode()

    for name in ("vary", "upscale", "extend"):
        assert f'action="{action_url(name, image)}"' in page
    assert "Vary (subtle)" in page and "Vary (strong)" in page and "Upscale 2\N{MULTIPLICATION SIGN}" in page
    # 256x256 upscaled 2x is 512x512: one started megapixel, 1 credit; the free plan stops at 2x.
    assert "512\N{MULTIPLICATION SIGN}512 · 1 credit" in page and "Upscale 4\N{MULTIPLICATION SIGN}" not in page
    assert 'data-field="mode">Text to image</dd>' in page


@pytest.mark.parametrize(
    ("name", "data", "error_id", "message"),
    [
        ("extend", {"size_preset": "poster", "anchor": "left"}, "id_extend_size_preset_error", "valid choice"),
        ("extend", {"size_preset": "1:1", "anchor": "middle"}, "id_extend_anchor_error", "valid choice"),
        ("vary", {"strength": "wild"}, "id_vary_errors", "valid choice"),
        ("upscale", {"factor": "3"}, "id_upscale_errors", "valid choice"),
        ("upscale", {"factor": "4"}, "id_upscale_errors", "Your plan upscales up to 2x."),
    ],
)
def test_bad_input_is_shown_on_the_image_page_and_stores_nothing(owner_client, image, name, data, error_id, message):
    response = owner_client.post(action_url(name, image), data)

    assert response.status_code == 400
    body = response.content.decode()
    assert f'id="{error_id}"' in body and message in body
    assert nothing_stored(image)


def test_a_canvas_past_the_plans_largest_side_is_reported_on_the_size(owner_client, image, set_tier):
    set_tier("free", max_side=768)

    response = owner_client.post(action_url("extend", image), {"size_preset": "16:9", "anchor": "center"})

    assert response.status_code == 400
    assert response.context["action_forms"]["extend"].errors["size_preset"] == [
        "The Free plan allows images up to 768 px a side."
    ]
    assert 'id="id_extend_size_preset_error"' in response.content.decode()
    assert nothing_stored(image)


def test_without_credits_the_refusal_is_shown_and_nothing_is_reserved(image, user):
    CreditEntry.objects.filter(user=user).delete()
    type(user).objects.filter(pk=user.pk).update(credit_balance=0)

    response = login(user).post(action_url("vary", image), {"strength": "subtle"})

    assert response.status_code == 400
    assert response.context["action_forms"]["vary"].non_field_errors()
    assert nothing_stored(image)


@pytest.mark.parametrize(
    ("name", "data"),
    [("vary", {"strength": "subtle"}), ("upscale", {"factor": "2"}), ("extend", {"size_preset": "16:9"})],
)
def test_another_users_image_is_not_found(other_client, image, name, data):
    assert other_client.post(action_url(name, image), data).status_code == 404
    assert nothing_stored(image)


def test_the_actions_need_a_post_with_the_csrf_token(user, image):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)

    assert browser.get(action_url("vary", image)).status_code == 405
    assert browser.post(action_url("vary", image), {"strength": "subtle"}).status_code == 403
    assert nothing_stored(image)


def test_the_actions_read_in_korean(owner_client, image):
    with translation.override("ko"):
        page = owner_client.get(reverse("gallery:image", args=[image.uuid]), HTTP_ACCEPT_LANGUAGE="ko").content.decode()

    assert "변형 (약하게)" in page and "2\N{MULTIPLICATION SIGN} 업스케일" in page
    assert "캔버스 확장…" in page and "1 크레딧" in page
