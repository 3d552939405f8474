"""Templates, production paths, size presets and prompt presets over the REST API."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from generation.engine.models_catalog import SIZE_PRESETS
from generation.engine.paths import PATHS
from templates_app.models import PromptPreset, Template
from templates_app.services import revise_template

from ..factories import TemplateFactory, UserFactory

pytestmark = pytest.mark.django_db


def results(response):
    assert response.status_code == 200, response.content
    body = response.json()
    return body["results"] if isinstance(body, dict) else body


class TestTemplates:
    def test_the_list_shows_active_versions_and_filters_by_path(self, api_client):
        fashion = TemplateFactory(production_path="fashion")
        revise_template(template=fashion, credit_cost=2)
        TemplateFactory(production_path="eats")
        listed = results(api_client.get("/api/v1/templates"))
        assert sorted((item["slug"], item["version"]) for item in listed) == sorted(
            [(fashion.slug, 2), (Template.objects.get(production_path="eats").slug, 1)]
        )
        only_fashion = results(api_client.get("/api/v1/templates", {"production_path": "fashion"}))
        assert [(item["slug"], item["cost"]) for item in only_fashion] == [(fashion.slug, 2)]

    def test_an_unknown_path_filter_is_a_400_naming_the_choices(self, api_client):
        response = api_client.get("/api/v1/templates", {"production_path": "fashon"})
        assert response.status_code == 400
        assert "fashion" in response.json()["error"]["fields"]["production_path"][0]

    def test_the_detail_has_cost_overridable_bounds_and_a_signed_preview_url(self, api_client):
        key = default_storage.save("templates/previews/detail.png", ContentFile(b"\x89PNG fake"))
        template = TemplateFactory(credit_cost=3, bounds={"steps": [1, 8]}, overridable=["steps", "seed"], preview=key)
        body = api_client.get(f"/api/v1/templates/{template.slug}").json()
        assert (body["cost"], body["overridable"], body["bounds"]) == (3, ["steps", "seed"], {"steps": [1, 8]})
        assert body["defaults"] == {"width": 256, "height": 256, "steps": 4, "guidance": 0.0, "num_images": 1}
        assert body["style_prompts"] == ["studio light"]
        assert body["config"]["pipeline"][0]["node_type"] == "prompt_enhancement"
        download = api_client.get(body["preview_url"])
        assert download.status_code == 200
        assert b"".join(download.streaming_content) == b"\x89PNG fake"

    def test_a_template_without_preview_has_a_null_preview_url(self, api_client):
        assert api_client.get(f"/api/v1/templates/{TemplateFactory().slug}").json()["preview_url"] is None

    def test_an_unknown_or_retired_slug_is_404(self, api_client):
        retired = TemplateFactory(is_active=False)
        assert api_client.get("/api/v1/templates/nothing-here").status_code == 404
        assert api_client.get(f"/api/v1/templates/{retired.slug}").status_code == 404

    def test_templates_need_authentication(self):
        assert APIClient().get("/api/v1/templates").status_code in (401, 403)


class TestRevisionsApi:
    def test_staff_revise_a_template_into_a_new_version(self):
        template = TemplateFactory(slug="poster")
        client = APIClient()
        client.force_authenticate(UserFactory(is_staff=True))
        response = client.post("/api/v1/templates/poster/revisions", {"credit_cost": 4}, format="json")
        assert response.status_code == 201, response.content
        assert (response.json()["version"], response.json()["cost"]) == (2, 4)
        template.refresh_from_db()
        assert not template.is_active

    def test_an_invalid_config_is_a_field_error_with_the_path_of_the_bad_field(self):
        template = TemplateFactory(slug="poster")
        client = APIClient()
        client.force_authenticate(UserFactory(is_staff=True))
        bad = {**template.config, "steps": 500}
        response = client.post("/api/v1/templates/poster/revisions", {"config": bad}, format="json")
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["fields"] == {"config": ["steps: Must be between 1 and 50 for Z-Image-Turbo."]}
        assert error["message"] == "config: steps: Must be between 1 and 50 for Z-Image-Turbo."

    def test_users_cannot_revise_templates(self, api_client):
        TemplateFactory(slug="poster")
        response = api_client.post("/api/v1/templates/poster/revisions", {"credit_cost": 0}, format="json")
        assert response.status_code == 403
        assert Template.objects.get().version == 1


def test_paths_list_each_production_path_with_its_defaults(api_client):
    TemplateFactory(production_path="cinema")
    paths = {item["name"]: item for item in results(api_client.get("/api/v1/paths"))}
    assert set(paths) == set(PATHS)
    assert paths["cinema"] == {
        "name": "cinema",
        "label": "Cinema",
        "default_size": {"width": 1024, "height": 576},
        "style_prompts": list(PATHS["cinema"].style_prompts),
        "negative_prompt": PATHS["cinema"].negative_prompt,
        "concurrency": 3,
        "queue": "gen.cinema",
        "templates": 1,
    }
    assert paths["fashion"]["concurrency"] == 5


def test_size_presets_are_listed_with_their_exact_sizes(api_client):
    presets = results(api_client.get("/api/v1/size-presets"))
    assert {item["name"]: (item["width"], item["height"]) for item in presets} == SIZE_PRESETS
    assert {"name": "facebook_cover", "width": 820, "height": 312} in presets


class TestPromptPresets:
    def test_create_list_update_delete(self, api_client):
        created = api_client.post(
            "/api/v1/prompt-presets", {"name": "Moody", "text": "low key, rim light", "kind": "prompt"}, format="json"
        )
        assert created.status_code == 201, created.content
        preset_id = created.json()["id"]
        api_client.post("/api/v1/prompt-presets", {"name": "No text", "text": "text, watermark", "kind": "negative"})
        assert [item["name"] for item in results(api_client.get("/api/v1/prompt-presets"))] == ["No text", "Moody"]
        assert [item["name"] for item in results(api_client.get("/api/v1/prompt-presets", {"kind": "negative"}))] == [
            "No text"
        ]
        updated = api_client.patch(f"/api/v1/prompt-presets/{preset_id}", {"text": "high key"}, format="json")
        assert (updated.status_code, updated.json()["text"]) == (200, "high key")
        assert api_client.delete(f"/api/v1/prompt-presets/{preset_id}").status_code == 204
        assert not PromptPreset.objects.filter(pk=preset_id).exists()

    def test_a_duplicate_name_is_a_400_on_name(self, api_client):
        body = {"name": "Moody", "text": "a", "kind": "prompt"}
        api_client.post("/api/v1/prompt-presets", body, format="json")
        response = api_client.post("/api/v1/prompt-presets", body, format="json")
        assert response.status_code == 400
        assert list(response.json()["error"]["fields"]) == ["name"]

    def test_an_unknown_kind_is_refused(self, api_client):
        response = api_client.post("/api/v1/prompt-presets", {"name": "a", "text": "b", "kind": "style"})
        assert response.status_code == 400
        assert "kind" in response.json()["error"]["fields"]

    def test_another_users_presets_are_invisible_and_untouchable(self, api_client, other_user):
        theirs = PromptPreset.objects.create(owner=other_user, name="Secret", text="x")
        assert results(api_client.get("/api/v1/prompt-presets")) == []
        assert api_client.get(f"/api/v1/prompt-presets/{theirs.pk}").status_code == 404
        assert api_client.patch(f"/api/v1/prompt-presets/{theirs.pk}", {"text": "y"}).status_code == 404
        assert api_client.delete(f"/api/v1/prompt-presets/{theirs.pk}").status_code == 404
        theirs.refresh_from_db()
        assert theirs.text == "x"

    def test_two_users_may_use_the_same_preset_name(self, api_client, other_user):
        PromptPreset.objects.create(owner=other_user, name="Moody", text="x")
        response = api_client.post("/api/v1/prompt-presets", {"name": "Moody", "text": "y"}, format="json")
        assert response.status_code == 201
