"""A story's styles and brand kit: set through its API, applied to its scene and character image jobs."""

from __future__ import annotations

import pytest

from generation.models import GenerationJob
from scenes import services

from ..factories import BrandKitFactory, ChapterFactory, CharacterFactory, SceneFactory, StyleFactory, TemplateFactory

pytestmark = pytest.mark.django_db


def test_a_story_takes_styles_and_a_kit_and_its_scene_jobs_apply_them(api_client, user):
    style = StyleFactory(trigger_words="inkwash style")
    kit = BrandKitFactory(owner=user, avoid_words="neon")
    body = {
        "title": "The Kite",
        "production_path": "cartoon",
        "styles": [{"id": style.pk, "weight": 0.9}],
        "brand_kit": kit.pk,
    }
    response = api_client.post("/api/v1/stories", body, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["styles"], response.json()["brand_kit"]) == ([{"id": style.pk, "weight": 0.9}], kit.pk)
    chapter = ChapterFactory(story_id=response.json()["id"], number=1)
    SceneFactory(chapter=chapter, scene_number=1)
    assert api_client.post(f"/api/v1/chapters/{chapter.pk}/scenes/1/images", format="json").status_code == 202
    job = GenerationJob.objects.get()
    assert ([(s["id"], s["weight"]) for s in job.styles], job.brand_kit) == ([(style.pk, 0.9)], kit)
    enhancement = next(node["parameters"] for node in job.workflow if node["node_type"] == "prompt_enhancement")
    assert "inkwash style" in enhancement["style_prompts"] and enhancement["avoid_words"] == "neon"


def test_a_character_image_job_applies_the_storys_styles(user):
    style = StyleFactory()
    character = CharacterFactory(story__owner=user, story__styles=[{"id": style.pk, "weight": 1.0}])
    job = services.generate_character_image(character=character).job
    assert [s["id"] for s in job.styles] == [style.pk]


def test_the_templates_styles_win_over_the_storys(user):
    template_style, story_style = StyleFactory(), StyleFactory()
    template = TemplateFactory(production_path="cartoon", styles=[{"id": template_style.pk, "weight": 1.0}])
    character = CharacterFactory(
        story__owner=user, story__template=template, story__styles=[{"id": story_style.pk, "weight": 1.0}]
    )
    assert [s["id"] for s in services.generate_character_image(character=character).job.styles] == [template_style.pk]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("brand_kit", lambda other: BrandKitFactory(owner=other).pk),
        ("styles", lambda other: [{"id": StyleFactory(owner=other).pk}]),
        ("styles", lambda other: [{"id": StyleFactory().pk, "weight": 3}]),
        ("styles", lambda other: [{"id": StyleFactory().pk} for _ in range(4)]),
    ],
    ids=["their-kit", "their-style", "weight-3", "four-styles"],
)
def test_bad_styles_or_another_users_kit_is_a_400_naming_the_field(api_client, other_user, field, value):
    response = api_client.post("/api/v1/stories", {"title": "The Kite", field: value(other_user)}, format="json")
    assert response.status_code == 400 and field in response.json()["error"]["fields"], response.content
