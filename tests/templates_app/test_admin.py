"""Staff edit templates in the admin: a bad config is a field error, and a change saves a new version."""

import json

import pytest

from templates_app.models import Template

from ..factories import TemplateFactory

pytestmark = pytest.mark.django_db


def form_data(template: Template, **changes):
    data = {
        "name": template.name,
        "slug": template.slug,
        "production_path": template.production_path,
        "description": template.description,
        "sample_prompt": template.sample_prompt,
        "credit_cost": template.credit_cost,
        "is_active": "on" if template.is_active else "",
        "config": json.dumps(template.config),
        "overridable": json.dumps(template.overridable),
        "bounds": json.dumps(template.bounds),
        "max_images": template.max_images,
    }
    # Fields with a callable default post their initial value too (a hidden input in the real form).
    data |= {"initial-overridable": data["overridable"], "initial-bounds": data["bounds"]}
    return {**data, **changes}


def test_an_invalid_config_is_shown_on_the_config_field_with_the_path_of_the_bad_field(staff_client):
    template = TemplateFactory.build(slug="poster")
    template.config["pipeline"][1]["parameters"]["model_type"] = "gan"
    response = staff_client.post("/admin/templates_app/template/add/", form_data(template))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "config": ["pipeline[1].parameters.model_type: Only 'diffusion' is supported."]
    }
    assert not Template.objects.exists()


def test_a_bad_bound_is_shown_on_the_bounds_field(staff_client):
    template = TemplateFactory.build(slug="poster")
    response = staff_client.post(
        "/admin/templates_app/template/add/", form_data(template, bounds=json.dumps({"steps": [9, 2]}))
    )
    assert list(response.context["adminform"].form.errors) == ["bounds"]


def test_editing_a_template_saves_a_new_version_and_keeps_the_old_one(staff_client):
    template = TemplateFactory(slug="poster", credit_cost=1)
    response = staff_client.post(
        f"/admin/templates_app/template/{template.pk}/change/", form_data(template, credit_cost=5)
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert list(Template.objects.filter(slug="poster").values_list("version", "credit_cost", "is_active")) == [
        (2, 5, True),
        (1, 1, False),
    ]


def test_only_deactivating_a_template_does_not_make_a_version(staff_client):
    template = TemplateFactory(slug="poster")
    response = staff_client.post(
        f"/admin/templates_app/template/{template.pk}/change/", form_data(template, is_active="")
    )
    assert response.status_code == 302
    assert list(Template.objects.filter(slug="poster").values_list("version", "is_active")) == [(1, False)]
