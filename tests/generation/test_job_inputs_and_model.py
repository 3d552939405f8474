"""A job's template inputs and its model, through the API: validated on their field, recorded on the job, kept
meaningful across template revisions, and the model's limits and estimate applied."""

from __future__ import annotations

import copy

import pytest
from django.core.exceptions import ValidationError

from generation.engine.models_catalog import SDXL, Z_IMAGE_TURBO
from generation.models import GenerationJob, JobStatus
from generation.services import estimate_seconds, job_model, retry_job
from templates_app.services import revise_template

from ..factories import JOB_REQUEST, TemplateFactory

LIGHTING = {
    "label": {"en": "Lighting", "ko": "조명"},
    "choices": [
        {"value": "studio", "label": {"en": "Studio", "ko": "스튜디오"}, "prompt": "soft studio lighting"},
        {
            "value": "dramatic",
            "label": {"en": "Dramatic", "ko": "드라마틱"},
            "prompt": "dramatic rim lighting, deep shadows",
        },
    ],
    "default": "studio",
}


@pytest.fixture
def lit_template(db):
    template = TemplateFactory()
    template.config = {**template.config, "inputs": {"lighting": LIGHTING}}
    template.save()
    return template


def submit(client, **fields):
    return client.post("/api/v1/jobs", JOB_REQUEST | fields, format="json")


def test_an_input_becomes_words_of_the_prompt_and_the_job_records_it(api_client, lit_template):
    response = submit(api_client, template=lit_template.slug, inputs={"lighting": "dramatic"})
    assert response.status_code == 202, response.content
    assert response.json()["inputs"] == {
        "lighting": {"value": "dramatic", "prompt": "dramatic rim lighting, deep shadows"}
    }
    job = GenerationJob.objects.get(pk=response.json()["id"])
    enhancement = next(node for node in job.workflow if node["node_type"] == "prompt_enhancement")
    assert enhancement["parameters"]["style_prompts"] == ["dramatic rim lighting, deep shadows", "studio light"]


def test_an_input_left_out_takes_its_default(api_client, lit_template):
    body = submit(api_client, template=lit_template.slug).json()
    assert body["inputs"]["lighting"]["value"] == "studio"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"inputs": {"render_engine": "cycles"}}, "inputs.render_engine"),
        ({"inputs": {"lighting": "neon"}}, "inputs.lighting"),
        ({"inputs": {"lighting": "x" * 201}}, "inputs"),
    ],
)
def test_an_undeclared_input_or_a_bad_value_is_a_400_naming_it(api_client, user, lit_template, fields, field):
    balance = user.credit_balance
    response = submit(api_client, template=lit_template.slug, **fields)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not GenerationJob.objects.exists() and user.credit_balance == balance


def test_an_input_without_a_template_is_refused_naming_it(api_client):
    response = submit(api_client, inputs={"lighting": "dramatic"})
    assert list(response.json()["error"]["fields"]) == ["inputs.lighting"]


def test_a_revision_of_the_template_leaves_an_old_jobs_inputs_as_they_were(api_client, lit_template):
    old = submit(api_client, template=lit_template.slug, inputs={"lighting": "dramatic"}).json()
    config = copy.deepcopy(lit_template.config)
    config["inputs"]["lighting"]["choices"][1]["prompt"] = "harsh top light"
    revise_template(template=lit_template, config=config)
    new = submit(api_client, template=lit_template.slug, inputs={"lighting": "dramatic"}).json()
    assert GenerationJob.objects.get(pk=old["id"]).inputs["lighting"]["prompt"] == "dramatic rim lighting, deep shadows"
    assert new["inputs"]["lighting"]["prompt"] == "harsh top light"


def test_a_retry_keeps_the_inputs_and_the_model(api_client, lit_template):
    body = submit(api_client, template=lit_template.slug, inputs={"lighting": "dramatic"}).json()
    GenerationJob.objects.filter(pk=body["id"]).update(status=JobStatus.FAILED)
    retry = retry_job(job=GenerationJob.objects.get(pk=body["id"]))
    assert retry.inputs["lighting"]["value"] == "dramatic"
    sdxl = submit(api_client, model="sdxl").json()
    GenerationJob.objects.filter(pk=sdxl["id"]).update(status=JobStatus.FAILED)
    assert retry_job(job=GenerationJob.objects.get(pk=sdxl["id"])).model == SDXL


def test_a_template_declaring_a_bad_input_is_refused_on_its_config(db):
    template = TemplateFactory.build()
    template.config = {**template.config, "inputs": {"lighting": {**LIGHTING, "default": "neon"}}}
    with pytest.raises(ValidationError) as refused:
        template.clean()
    (message,) = refused.value.message_dict["config"]
    assert message.startswith("inputs.lighting.default: ")


# --- the model --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sdxl", SDXL])
def test_a_job_without_a_template_draws_with_the_model_it_names_and_its_defaults(api_client, name):
    body = {key: value for key, value in JOB_REQUEST.items() if key != "steps"} | {"model": name}
    response = api_client.post("/api/v1/jobs", body, format="json")
    assert response.status_code == 202, response.content
    job = response.json()
    assert (job["model"], job["steps"], job["guidance"]) == (SDXL, 30, 7.0)


def test_the_service_reads_a_models_name_in_any_letter_case():
    assert job_model(template=None, model_name="SDXL").name == SDXL


def test_the_default_model_is_z_image_turbo(api_client):
    assert submit(api_client).json()["model"] == Z_IMAGE_TURBO


def test_the_chosen_models_limits_apply(api_client):
    assert submit(api_client, model="sdxl", steps=80).status_code == 202
    refused = submit(api_client, model="z-image-turbo", steps=80)
    assert refused.status_code == 400 and "steps" in refused.json()["error"]["fields"]
    refused = submit(api_client, model="z-image-turbo", guidance=15.0)
    assert "guidance" in refused.json()["error"]["fields"]


def test_an_unknown_model_is_a_400_naming_model(api_client):
    assert list(submit(api_client, model="dall-e").json()["error"]["fields"]) == ["model"]


def test_a_template_fixes_its_model(api_client, lit_template):
    refused = submit(api_client, template=lit_template.slug, model="sdxl")
    assert refused.status_code == 400 and list(refused.json()["error"]["fields"]) == ["model"]
    assert not GenerationJob.objects.exists()
    assert submit(api_client, template=lit_template.slug, model="z-image-turbo").status_code == 202


def test_the_estimate_follows_the_model(api_client):
    turbo = GenerationJob.objects.get(pk=submit(api_client, steps=20).json()["id"])
    sdxl = GenerationJob.objects.get(pk=submit(api_client, model="sdxl", steps=20).json()["id"])
    assert estimate_seconds(turbo) != estimate_seconds(sdxl)
    assert submit(api_client, model="sdxl", steps=20).json()["estimated_seconds"] == estimate_seconds(sdxl)
