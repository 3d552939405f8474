"""The generate form: field-level messages from submit_job's own checks, nothing stored on a refusal, and a valid
submit becomes a job whose progress page the browser is sent to."""

from __future__ import annotations

import pytest
from django.urls import reverse

from generation.models import GenerationJob

from ..factories import GenerationJobFactory, TemplateFactory, UserFactory, stored_image
from .conftest import login

pytestmark = pytest.mark.django_db

GENERATE = reverse("generation:generate")


def post(client, **fields):
    data = {"production_path": "fashion", "prompt": "a linen summer dress", "num_images": "1"} | fields
    return client.post(GENERATE, {key: value for key, value in data.items() if value is not None})


def field_errors(response, field):
    return response.context["form"].errors.get(field, [])


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"prompt": "   "}, "prompt", "This field is required."),
        ({"prompt": "x" * 2001}, "prompt", "at most 2000 characters"),
        ({"seed": "-1"}, "seed", "greater than or equal to 0"),
        ({"seed": "abc"}, "seed", "Enter a whole number."),
        ({"num_images": "9"}, "num_images", "Select a valid choice"),
        ({"steps": "0"}, "steps", "greater than or equal to 1"),
        ({"guidance": "99"}, "guidance", "less than or equal to"),
        ({"size_preset": "poster"}, "size_preset", "Select a valid choice"),
        ({"production_path": "space"}, "production_path", "Select a valid choice"),
        ({"template": "no-such-template"}, "template", "Select a valid choice"),
    ],
)
def test_bad_input_is_refused_next_to_its_field_and_stores_nothing(owner_client, fields, field, message):
    response = post(owner_client, **fields)
    assert response.status_code == 200
    assert any(message in error for error in field_errors(response, field)), response.context["form"].errors
    assert GenerationJob.objects.count() == 0
    body = response.content.decode()
    assert f'id="id_{field}_error"' in body
    assert 'aria-invalid="true"' in body


def test_a_step_count_outside_the_templates_bounds_is_reported_on_steps(owner_client, template):
    response = post(owner_client, template=template.slug, steps="30")
    assert field_errors(response, "steps") == [f"Must be between 2 and 8 with the template {template.name!r}."]
    assert GenerationJob.objects.count() == 0


def test_a_setting_the_template_fixes_is_reported_on_its_field(owner_client):
    fixed = TemplateFactory(slug="fixed", overridable=["num_images"])
    response = post(owner_client, template=fixed.slug, size_preset="16:9", seed="5")
    assert field_errors(response, "seed") or field_errors(response, "size_preset")
    assert GenerationJob.objects.count() == 0


def test_a_template_from_another_path_is_reported_on_the_path(owner_client, template):
    response = post(owner_client, template=template.slug, production_path="eats")
    assert field_errors(response, "production_path") == ["The template belongs to the fashion path."]
    assert GenerationJob.objects.count() == 0


def test_not_enough_credits_is_a_form_error_and_stores_nothing(db):
    client = login(UserFactory(credits=0))
    response = post(client, num_images="2")
    assert response.status_code == 200
    assert "This job costs 2 credits; you have 0 available." in response.context["form"].non_field_errors()
    assert GenerationJob.objects.count() == 0


def test_a_valid_submit_creates_the_job_and_redirects_to_its_progress_page(owner_client, user, template):
    response = post(
        owner_client,
        template=template.slug,
        prompt="a linen summer dress",
        negative_prompt="blurry",
        size_preset="1:1",
        num_images="2",
        seed="42",
        steps="6",
        guidance="0.5",
    )
    job = GenerationJob.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("generation:job", args=[job.pk])
    assert (job.owner, job.template, job.production_path) == (user, template, "fashion")
    assert (job.prompt, job.negative_prompt, job.num_images, job.seed) == ("a linen summer dress", "blurry", 2, 42)
    assert (job.width, job.height, job.steps, job.guidance) == (1024, 1024, 6, 0.5)
    page = owner_client.get(response.url)
    assert page.status_code == 200
    assert f'data-job-id="{job.pk}"' in page.content.decode()


def test_a_template_without_a_path_runs_on_the_templates_path(owner_client, template):
    response = post(owner_client, template=template.slug, production_path="")
    assert response.status_code == 302
    assert GenerationJob.objects.get().production_path == template.production_path


def test_the_form_starts_from_a_template(owner_client, template):
    response = owner_client.get(GENERATE + f"?template={template.slug}")
    form = response.context["form"]
    assert form.initial["template"] == template.slug
    assert form.initial["production_path"] == template.production_path


def test_use_these_settings_again_prefills_the_form_from_an_image(owner_client, user, template):
    job = GenerationJobFactory(
        owner=user, succeeded=True, template=template, prompt="red coat", negative_prompt="rain", steps=6, seed=100
    )
    image = stored_image(user, job=job, index=1)
    response = owner_client.get(GENERATE + f"?from_image={image.uuid}")
    initial = response.context["form"].initial
    assert initial["prompt"] == "red coat"
    assert initial["negative_prompt"] == "rain"
    assert initial["seed"] == image.seed == 101
    assert initial["steps"] == 6
    assert initial["template"] == template.slug
    assert initial["num_images"] == 1
    body = response.content.decode()
    assert "red coat</textarea>" in body and 'value="101"' in body


def test_retry_submits_the_same_request_again(owner_client, user, template):
    job = GenerationJobFactory(
        owner=user, template=template, prompt="red coat", failed=True, steps=6, seed=100, num_images=2
    )
    response = owner_client.post(reverse("generation:job-retry", args=[job.pk]))
    retried = GenerationJob.objects.exclude(pk=job.pk).get()
    assert response.status_code == 302 and response.url == reverse("generation:job", args=[retried.pk])
    assert (retried.prompt, retried.template, retried.seed, retried.steps, retried.num_images) == (
        "red coat",
        template,
        100,
        6,
        2,
    )


def test_a_retry_that_is_refused_goes_back_to_the_form_with_the_reason(db):
    user = UserFactory(credits=0)
    client = login(user)
    job = GenerationJobFactory(owner=user, failed=True)
    response = client.post(reverse("generation:job-retry", args=[job.pk]), follow=True)
    assert response.redirect_chain[-1][0] == f"{GENERATE}?from_job={job.pk}"
    assert "you have 0 available" in response.content.decode()
    assert GenerationJob.objects.count() == 1


def test_cancel_stops_a_queued_job(owner_client, user):
    job = GenerationJobFactory(owner=user, status="queued", progress_step=0)
    response = owner_client.post(reverse("generation:job-cancel", args=[job.pk]), {"next": reverse("generation:jobs")})
    assert response.status_code == 302 and response.url == reverse("generation:jobs")
    job.refresh_from_db()
    assert job.status == "canceled"


def test_cancel_never_redirects_off_site(owner_client, user):
    job = GenerationJobFactory(owner=user, status="queued", progress_step=0)
    response = owner_client.post(reverse("generation:job-cancel", args=[job.pk]), {"next": "https://evil.example/"})
    assert response.url == reverse("generation:job", args=[job.pk])


def test_history_filters_by_status_and_search(owner_client, user):
    GenerationJobFactory(owner=user, prompt="blue scarf", failed=True)
    GenerationJobFactory(owner=user, prompt="red scarf", succeeded=True)
    body = owner_client.get(reverse("generation:jobs") + "?status=failed&q=scarf").content.decode()
    assert "blue scarf" in body and "red scarf" not in body
