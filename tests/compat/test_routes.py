"""The earlier APIs' routes without a worker: their translations, refusals (with `detail`), status words and tags."""

from __future__ import annotations

import pytest

from generation.models import GenerationJob
from templates_app.services import seed_curated_templates

from ..api.conftest import openapi_schema
from ..factories import ChapterFactory, GenerationJobFactory, SceneFactory, StoryFactory

RENDER = {
    "template_id": "3d-render",
    "prompt": "modern futuristic car in a cyberpunk city",
    "parameters": {"render_engine": "octane", "lighting_setup": "neon", "width": 1024, "height": 1024},
}
FIELDS = ("template_id", "model", "width", "height", "steps", "guidance", "inputs", "enhanced_prompt")


@pytest.fixture
def render_template(db):
    seed_curated_templates()


def refusal(response) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["detail"] == body["error"]["message"], "the earlier clients read detail"
    return body["error"]["fields"]


def test_document_000s_body_is_the_same_job_as_the_apis_own(api_client, render_template):
    old = api_client.post("/api/v1/generate", RENDER, format="json").json()
    new = api_client.post(
        "/api/v1/jobs",
        {
            "template": "3d-render",
            "prompt": RENDER["prompt"],
            "inputs": {"render_engine": "octane", "lighting_setup": "neon"},
            "width": 1024,
            "height": 1024,
        },
        format="json",
    ).json()
    first, second = (GenerationJob.objects.get(pk=pk) for pk in (old["job_id"], new["id"]))
    assert [getattr(first, name) for name in FIELDS] == [getattr(second, name) for name in FIELDS]


def test_a_template_id_may_be_a_versions_id(api_client, render_template):
    from templates_app.models import Template

    template = Template.objects.get(slug="3d-render")
    body = api_client.post("/api/v1/generate", {**RENDER, "template_id": template.pk}, format="json").json()
    assert GenerationJob.objects.get(pk=body["job_id"]).template == template


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"template_id": "no-such-template"}, "template_id"),
        ({"parameters": {**RENDER["parameters"], "shader": "toon"}}, "parameters.shader"),
        ({"parameters": {**RENDER["parameters"], "lighting_setup": "candle"}}, "parameters.lighting_setup"),
        ({"parameters": {**RENDER["parameters"], "width": 10}}, "parameters.width"),
        ({"parameters": {**RENDER["parameters"], "cfg_scale": 40}}, "parameters.cfg_scale"),
        ({"parameters": "steps=35"}, "parameters"),
        ({"model": "sdxl-turbo-9000"}, "model"),
    ],
)
def test_a_bad_old_body_is_a_400_naming_the_field_as_sent(api_client, user, render_template, change, field):
    balance = user.credit_balance
    assert field in refusal(api_client.post("/api/v1/generate", {**RENDER, **change}, format="json"))
    assert not GenerationJob.objects.exists() and user.credit_balance == balance


def test_document_002s_model_with_a_template_that_fixes_another_is_refused(api_client, render_template):
    assert "model" in refusal(api_client.post("/api/v1/generate", {**RENDER, "model": "z-image-turbo"}, format="json"))


def test_the_jobs_list_is_a_plain_list_with_skip_or_limit_and_paginated_without(api_client, user):
    jobs = GenerationJobFactory.create_batch(4, owner=user)
    newest_first = [job.pk for job in reversed(jobs)]
    assert [row["id"] for row in api_client.get("/api/v1/jobs", {"skip": 1, "limit": 2}).json()] == newest_first[1:3]
    assert [row["id"] for row in api_client.get("/api/v1/jobs", {"skip": 3}).json()] == newest_first[3:]
    assert api_client.get("/api/v1/jobs").json()["count"] == 4
    for params in ({"skip": -1}, {"limit": 0}, {"limit": "ten"}):
        assert set(params) <= set(refusal(api_client.get("/api/v1/jobs", params))), params


def test_each_documents_status_words(api_client, user):
    running = GenerationJobFactory(owner=user, running=True)
    canceled = GenerationJobFactory(owner=user, canceled=True)
    assert api_client.get(f"/api/v1/status/{running.pk}").json()["status"] == "processing"
    assert api_client.get(f"/api/v1/tasks/{running.pk}").json()["status"] == "processing"
    gone = api_client.get(f"/api/v1/status/{canceled.pk}").json()
    assert (gone["status"], gone["error_message"]) == ("failed", "Canceled.")
    assert api_client.get(f"/api/v1/status/{GenerationJobFactory(owner=user).pk}").json()["status"] == "pending"


def test_document_004s_scene_status_says_in_progress(api_client, user):
    from scenes.models import StoryImageRequest

    scene = SceneFactory(chapter=ChapterFactory(story=StoryFactory(owner=user)), scene_number=2)
    StoryImageRequest.objects.create(
        scene=scene,
        job=GenerationJobFactory(owner=user, running=True),
        image_type="scene",
        chapter_number=scene.chapter.number,
        scene_number=2,
    )
    body = api_client.get(f"/api/v1/chapters/{scene.chapter_id}/images/scenes/2/status").json()
    assert (body["status"], body["image_url"], body["error_message"], body["retry_count"]) == (
        "in_progress",
        None,
        None,
        0,
    )


@pytest.mark.parametrize(
    ("path", "method", "document"),
    [
        ("/api/v1/generate", "post", "002"),
        ("/api/v1/generate/{job_id}/stream", "get", "000"),
        ("/api/v1/status/{job_id}", "get", "002"),
        ("/api/v1/images/generate", "post", "003"),
        ("/api/v1/tasks/{task_id}", "get", "003"),
        ("/api/v1/chapters/{chapter_id}/images/scenes/{scene_number}", "post", "004"),
        ("/api/v1/chapters/{chapter_id}/images/scenes/{scene_number}/status", "get", "004"),
    ],
)
def test_each_route_is_documented_under_its_documents_tag(path, method, document):
    assert openapi_schema()["paths"][path][method]["tags"] == [f"compatible with document {document}"]
