"""A template's declared inputs: what a declaration may say, and what a job's values resolve to."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from generation.engine.template_inputs import (
    input_fragments,
    localized,
    resolve_inputs,
    validate_input_declarations,
    with_input_fragments,
)
from generation.engine.workflow import WorkflowConfigError
from templates_app.seed_templates import RENDER_INPUTS

LIGHTING = {
    "lighting": {
        "label": {"en": "Lighting", "ko": "조명"},
        "choices": [
            {"value": "studio", "label": "Studio", "prompt": "soft studio lighting"},
            {"value": "dramatic", "label": "Dramatic", "prompt": "dramatic rim lighting, deep shadows"},
        ],
        "default": "studio",
    },
    "colour": {"label": "Colour", "max_length": 20, "prompt": "in {value} tones"},
}


def test_the_seeded_render_inputs_are_valid_declarations():
    assert validate_input_declarations(RENDER_INPUTS) == RENDER_INPUTS


@pytest.mark.parametrize(
    ("declarations", "where"),
    [
        ({"Lighting": LIGHTING["lighting"]}, "inputs.Lighting"),
        ({"lighting": {**LIGHTING["lighting"], "default": "neon"}}, "inputs.lighting.default"),
        ({"lighting": {**LIGHTING["lighting"], "label": ""}}, "inputs.lighting.label"),
        ({"lighting": {**LIGHTING["lighting"], "max_length": 5}}, "inputs.lighting.max_length"),
        ({"lighting": {**LIGHTING["lighting"], "choices": []}}, "inputs.lighting.choices"),
        ({"lighting": {**LIGHTING["lighting"], "choices": {"studio": {}}}}, "inputs.lighting.choices"),
        (
            {"lighting": {**LIGHTING["lighting"], "choices": [{"value": "studio", "label": "Studio"}]}},
            "inputs.lighting.choices[0].prompt",
        ),
        (
            {"lighting": {**LIGHTING["lighting"], "choices": [*LIGHTING["lighting"]["choices"]] * 2}},
            "inputs.lighting.choices[2].value",
        ),
        ({"colour": {"label": "Colour"}}, "inputs.colour.max_length"),
        ({"colour": {"label": "Colour", "max_length": 20, "prompt": "in tones"}}, "inputs.colour.prompt"),
        ({"colour": {"label": "Colour", "max_length": 3, "default": "crimson"}}, "inputs.colour.default"),
        ([], "inputs"),
    ],
)
def test_a_bad_declaration_is_refused_naming_its_key(declarations, where):
    with pytest.raises(WorkflowConfigError) as refused:
        validate_input_declarations(declarations)
    assert refused.value.path == where


def test_values_resolve_to_their_fragments_and_defaults_fill_the_rest():
    declarations = validate_input_declarations(LIGHTING)
    resolved = resolve_inputs(declarations, {"colour": "  deep\n teal "})
    assert resolved == {
        "lighting": {"value": "studio", "prompt": "soft studio lighting"},
        "colour": {"value": "deep teal", "prompt": "in deep teal tones"},
    }
    assert input_fragments(resolve_inputs(declarations, {"lighting": "dramatic"})) == [
        "dramatic rim lighting, deep shadows"
    ]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"render_engine": "cycles"}, "inputs.render_engine"),
        ({"lighting": "neon"}, "inputs.lighting"),
        ({"colour": "x" * 21}, "inputs.colour"),
        ({"colour": 5}, "inputs.colour"),
    ],
)
def test_an_undeclared_input_or_a_bad_value_is_refused_naming_it(values, field):
    with pytest.raises(ValidationError) as refused:
        resolve_inputs(validate_input_declarations(LIGHTING), values)
    assert list(refused.value.message_dict) == [field]


def test_fragments_follow_the_prompt_before_the_templates_style_words():
    workflow = [
        {"node_type": "prompt_enhancement", "parameters": {"style_prompts": ["3d render"]}},
        {"node_type": "generation", "parameters": {}},
    ]
    changed = with_input_fragments(workflow, ["dramatic rim lighting"])
    assert changed[0]["parameters"]["style_prompts"] == ["dramatic rim lighting", "3d render"]
    assert workflow[0]["parameters"]["style_prompts"] == ["3d render"], "the template's own list is not changed"


def test_a_label_reads_in_the_language_asked_for_else_english():
    assert localized({"en": "Lighting", "ko": "조명"}, "ko-kr") == "조명"
    assert localized({"en": "Lighting", "ko": "조명"}, "fr") == "Lighting"
    assert localized("Lighting", "ko") == "Lighting"
