"""Template versioning, seeding, and the template's bounds enforced when a job is submitted."""

import pytest

from generation.services import submit_job
from templates_app.models import Template
from templates_app.seed_templates import CURATED_TEMPLATES
from templates_app.services import revise_template, seed_curated_templates

from ..conftest import errors_of
from ..factories import TemplateFactory

pytestmark = pytest.mark.django_db


class TestRevise:
    def test_a_revision_is_version_n_plus_1_and_retires_version_n_from_listings(self):
        original = TemplateFactory(slug="poster", credit_cost=1)
        revision = revise_template(template=original, credit_cost=3, name="Poster II")
        original.refresh_from_db()
        assert (revision.slug, revision.version, revision.credit_cost, revision.name) == ("poster", 2, 3, "Poster II")
        assert (original.version, original.credit_cost, original.is_active) == (1, 1, False)
        assert list(Template.objects.listed().filter(slug="poster")) == [revision]
        assert Template.objects.latest_active("poster") == revision

    def test_a_job_keeps_the_exact_version_it_ran_with(self, user):
        original = TemplateFactory(slug="poster")
        job = submit_job(user=user, prompt="a red door", template=original)
        new_config = {**original.config, "steps": 8}
        revise_template(template=original, config=new_config)
        job.refresh_from_db()
        assert job.template_id == original.pk
        assert (job.template.version, job.template.config["steps"], job.steps) == (1, 4, 4)

    def test_the_job_api_resolves_a_slug_to_the_latest_active_version(self, api_client):
        original = TemplateFactory(slug="poster")
        revision = revise_template(template=revise_template(template=original, credit_cost=2), credit_cost=3)
        response = api_client.post("/api/v1/jobs", {"prompt": "a red door", "template": "poster"}, format="json")
        assert response.status_code == 202, response.content
        assert Template.objects.filter(jobs__pk=response.json()["id"]).get() == revision
        assert revision.version == 3

    def test_an_unknown_slug_is_a_field_error_on_template(self, api_client):
        response = api_client.post("/api/v1/jobs", {"prompt": "a red door", "template": "nope"}, format="json")
        assert response.status_code == 400
        assert "template" in response.json()["error"]["fields"]

    def test_an_invalid_revision_names_the_bad_config_field_and_changes_nothing(self):
        original = TemplateFactory(slug="poster")
        bad = {**original.config, "pipeline": [{"node_type": "controlnet", "parameters": {}}]}
        errors = errors_of(lambda: revise_template(template=original, config=bad))
        assert errors["config"][0].startswith("pipeline[0].node_type: Unknown node type 'controlnet'")
        assert list(Template.objects.filter(slug="poster").values_list("version", "is_active")) == [(1, True)]

    def test_only_editable_fields_can_be_revised(self):
        assert "slug" in errors_of(lambda: revise_template(template=TemplateFactory(), slug="other"))

    def test_the_preview_carries_over_only_while_the_drawing_settings_do(self):
        original = TemplateFactory(preview="templates/previews/poster-v1.png")
        assert revise_template(template=original, credit_cost=5).preview.name == "templates/previews/poster-v1.png"
        latest = Template.objects.latest_active(original.slug)
        assert not revise_template(template=latest, config={**latest.config, "steps": 6}).preview


class TestBounds:
    def test_an_override_outside_the_templates_bounds_is_refused_naming_the_parameter(self, user):
        template = TemplateFactory(bounds={"steps": [2, 6]})
        errors = errors_of(lambda: submit_job(user=user, prompt="x", template=template, steps=9))
        assert errors == {"steps": [f"Must be between 2 and 6 with the template {template.name!r}."]}

    def test_an_override_inside_the_bounds_is_accepted(self, user):
        template = TemplateFactory(bounds={"steps": [2, 6], "guidance": [0, 1.5]})
        job = submit_job(user=user, prompt="x", template=template, steps=6, guidance=1.5)
        assert (job.steps, job.guidance) == (6, 1.5)

    def test_a_size_preset_outside_the_size_bounds_is_refused(self, user):
        template = TemplateFactory(bounds={"width": [256, 768]})
        assert "width" in errors_of(lambda: submit_job(user=user, prompt="x", template=template, size_preset="1:1"))
        assert submit_job(user=user, prompt="x", template=template, size_preset="9:16").width == 576

    def test_the_number_of_images_can_be_bounded(self, user):
        template = TemplateFactory(bounds={"num_images": [1, 2]})
        assert "num_images" in errors_of(lambda: submit_job(user=user, prompt="x", template=template, num_images=3))


class TestSeed:
    def test_seeding_creates_the_curated_templates_once(self):
        assert seed_curated_templates() == len(CURATED_TEMPLATES)
        assert seed_curated_templates() == 0
        assert Template.objects.count() == len(CURATED_TEMPLATES)

    def test_seeding_leaves_revised_templates_alone(self):
        seed_curated_templates()
        revise_template(template=Template.objects.get(slug="3d-render"), credit_cost=4)
        assert seed_curated_templates() == 0
        assert list(Template.objects.filter(slug="3d-render").values_list("version", "is_active")) == [
            (2, True),
            (1, False),
        ]

    def test_the_3d_render_example_is_seeded_verbatim_with_its_style_prompts(self):
        seed_curated_templates()
        template = Template.objects.get(slug="3d-render")
        assert template.config["steps"] == 35
        assert template.config["pipeline"][0]["parameters"]["style_prompts"] == [
            "3d render",
            "octane render",
            "blender",
            "high quality",
            "professional lighting",
        ]
