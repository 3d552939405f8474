"""The generate page's template inputs and model choice: shown in the page's language, submitted to the same
service as the API (refusals on the page, nothing stored), and the estimate following the chosen model."""

from __future__ import annotations

import pytest
from django.urls import reverse

from generation.engine.models_catalog import SDXL
from generation.models import GenerationJob
from generation.services import estimate_seconds
from templates_app.services import seed_curated_templates

from .conftest import login

pytestmark = pytest.mark.django_db

GENERATE = reverse("generation:generate")
ESTIMATE = reverse("generation:generate-estimate")
RENDER = {"template": "3d-render", "production_path": "cartoon", "prompt": "a futuristic car", "num_images": "1"}


@pytest.fixture
def render_template(db):
    seed_curated_templates()


def test_the_chosen_templates_inputs_are_fields_of_the_page_in_korean(user, render_template):
    user.language = "ko"
    user.save()
    body = login(user).get(GENERATE, {"template": "3d-render"}).content.decode()
    assert 'data-template-inputs="3d-render">' in body, "shown and enabled for the chosen template"
    for text in ("렌더 엔진", "조명", "드라마틱", "사이클 (경로 추적)", "이 템플릿의 옵션"):
        assert text in body
    assert 'name="input_lighting_setup"' in body and 'value="dramatic"' in body


def test_another_templates_inputs_are_hidden_and_not_sent(owner_client, render_template):
    body = owner_client.get(GENERATE).content.decode()
    assert 'data-template-inputs="3d-render" hidden disabled>' in body


def test_the_inputs_submitted_with_the_template_reach_the_job(owner_client, render_template):
    response = owner_client.post(
        GENERATE, RENDER | {"input_lighting_setup": "dramatic", "input_render_engine": "eevee"}
    )
    assert response.status_code == 302, response.context["form"].errors
    job = GenerationJob.objects.get()
    assert {name: entry["value"] for name, entry in job.inputs.items()} == {
        "render_engine": "eevee",
        "lighting_setup": "dramatic",
    }


def test_a_bad_input_value_is_refused_on_the_page_naming_the_input(owner_client, render_template):
    response = owner_client.post(GENERATE, RENDER | {"input_lighting_setup": "candlelight"})
    assert response.status_code == 200
    (message,) = response.context["form"].non_field_errors()
    assert message == "Lighting: Choose one of: studio, dramatic, natural, neon."
    assert not GenerationJob.objects.exists()


def test_the_model_is_offered_with_its_limits_and_a_job_draws_with_it(owner_client):
    body = owner_client.get(GENERATE).content.decode()
    assert "Stable Diffusion XL · up to 100 steps, guidance up to 20, 256 to 2048 px" in body
    response = owner_client.post(
        GENERATE, {"production_path": "fashion", "prompt": "a linen dress", "num_images": "1", "model": "sdxl"}
    )
    assert response.status_code == 302, response.context["form"].errors
    assert GenerationJob.objects.get().model == SDXL


def test_a_model_other_than_the_templates_is_refused_on_the_model_field(owner_client, render_template):
    response = owner_client.post(GENERATE, RENDER | {"model": "z-image-turbo"})
    assert response.context["form"].errors["model"][0].startswith("The template 3D render draws with")
    assert not GenerationJob.objects.exists()


def test_the_estimate_follows_the_chosen_model_and_equals_the_submitted_job(owner_client):
    fields = {"production_path": "fashion", "num_images": "1", "steps": "20", "model": "sdxl"}
    quote = owner_client.get(ESTIMATE, fields).json()
    turbo = owner_client.get(ESTIMATE, fields | {"model": ""}).json()
    assert quote["model_text"].startswith("Stable Diffusion XL") and turbo["model_text"].startswith("Z-Image-Turbo")
    owner_client.post(GENERATE, fields | {"prompt": "a linen dress"})
    job = GenerationJob.objects.get()
    assert (quote["cost"], quote["width"], quote["height"], quote["seconds"]) == (
        job.credit_cost,
        job.width,
        job.height,
        estimate_seconds(job),
    )
