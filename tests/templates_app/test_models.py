"""Template invariants: config, overridable parameters and bounds are validated whenever a template is saved."""

import pytest
from django.core.exceptions import ValidationError

from generation.engine.workflow import WorkflowConfigError
from templates_app.models import Template
from templates_app.seed_templates import CURATED_TEMPLATES

from ..factories import TemplateFactory

pytestmark = pytest.mark.django_db


def bounds_error(**bounds):
    with pytest.raises(ValidationError) as error:
        TemplateFactory(bounds=bounds)
    return error.value.message_dict["bounds"][0]


def test_bounds_are_normalised_and_stored():
    template = TemplateFactory(bounds={"steps": [1, 12], "guidance": [0, 2.5]})
    template.refresh_from_db()
    assert template.bounds == {"steps": [1, 12], "guidance": [0, 2.5]}


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ({"seed": [0, 10]}, "seed: Cannot be bounded"),
        ({"steps": [1]}, "steps: Must be [low, high]"),
        ({"steps": [1.5, 8]}, "steps: Must be [low, high], two whole numbers"),
        ({"steps": [8, 2]}, "steps: Must satisfy 1 <= low <= high <= 50"),
        ({"width": [64, 512]}, "width: Must satisfy 256 <= low"),
        ({"steps": [6, 12]}, "steps: The template's own default (4) lies outside [6, 12]"),
    ],
)
def test_a_bad_bound_is_refused_on_save_naming_the_parameter(bounds, message):
    assert bounds_error(**bounds).startswith(message)


def test_a_bound_on_a_parameter_the_template_does_not_let_users_change_is_refused():
    with pytest.raises(ValidationError) as error:
        TemplateFactory(overridable=["seed"], bounds={"steps": [1, 8]})
    assert "steps: Is not overridable" in error.value.message_dict["bounds"][0]


def test_saving_an_invalid_config_raises_the_path_of_the_bad_field():
    template = TemplateFactory.build()
    template.config["pipeline"][1]["parameters"]["model_type"] = "gan"
    with pytest.raises(WorkflowConfigError) as error:
        template.save()
    assert error.value.path == "pipeline[1].parameters.model_type"
    assert not Template.objects.exists()


def test_clean_reports_an_invalid_config_on_the_config_field_with_its_path():
    template = TemplateFactory.build()
    template.config["pipeline"][0]["parameters"]["style_prompts"] = ["ok", ""]
    with pytest.raises(ValidationError) as error:
        template.full_clean()
    assert error.value.message_dict["config"] == [
        "pipeline[0].parameters.style_prompts[1]: Must be a non-empty string."
    ]


def test_only_one_version_of_a_slug_is_active():
    TemplateFactory(slug="poster", version=1)
    with pytest.raises(ValidationError) as error:
        TemplateFactory.build(slug="poster", version=2).full_clean()
    assert "Another version of this template is already active." in str(error.value)


def test_every_curated_template_passes_its_own_validation():
    for spec in CURATED_TEMPLATES:
        Template(**spec).full_clean()
    assert len(CURATED_TEMPLATES) >= 10
    assert {spec["production_path"] for spec in CURATED_TEMPLATES} == {"fashion", "beauty", "eats", "cinema", "cartoon"}
