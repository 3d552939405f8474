import pytest

from generation.engine.job_input import JobInput
from generation.engine.nodes import enhance_prompt
from generation.engine.workflow import (
    NODE_TYPES,
    Node,
    WorkflowConfigError,
    WorkflowContext,
    register_node,
    run_pipeline,
    validate_pipeline,
    validate_workflow_config,
)
from templates_app.seed_templates import CURATED_TEMPLATES

# The source documents' example, as the curated catalogue seeds it.
THREE_D_RENDER = next(entry["config"] for entry in CURATED_TEMPLATES if entry["slug"] == "3d-render")


def context(**overrides):
    """A workflow context for a one-image, one-step job; `overrides` are JobInput fields."""
    values = dict(
        production_path="fashion",
        prompt="modern futuristic car in a cyberpunk city",
        negative_prompt="",
        model="m",
        scheduler="s",
        steps=1,
        guidance=0.0,
        width=256,
        height=256,
        num_images=1,
        seed=1,
        workflow=[],
        credit_cost=1,
    )
    return WorkflowContext(job=JobInput(**(values | overrides)))


def test_the_3d_render_example_produces_the_documented_enhanced_prompt():
    config = validate_workflow_config(THREE_D_RENDER)
    ctx = context()
    NODE_TYPES["prompt_enhancement"](**config["pipeline"][0]["parameters"]).run(ctx)
    assert ctx.prompt == (
        "modern futuristic car in a cyberpunk city, 3d render, octane render, blender, "
        "high quality, professional lighting"
    )


def test_generation_node_supplies_the_template_negative_prompt_when_the_user_gave_none():
    ctx = context()
    NODE_TYPES["generation"](negative_prompt="2d, flat").run(ctx)
    assert ctx.negative_prompt == "2d, flat"


def test_users_negative_prompt_wins_over_the_templates():
    ctx = context(negative_prompt="no people")
    NODE_TYPES["prompt_enhancement"](style_prompts=[], negative_prompt="template negative").run(ctx)
    assert ctx.negative_prompt == "no people"


def test_enhance_prompt_ignores_trailing_commas_and_blank_styles():
    assert enhance_prompt("a cat,", ["watercolor", " "]) == "a cat, watercolor"


@pytest.mark.parametrize(
    ("pipeline", "path"),
    [
        ([{"node_type": "controlnet"}], "pipeline[0].node_type"),
        ([{"node_type": "generation", "parameters": {"steps": 3}}], "pipeline[0].parameters.steps"),
        (
            [{"node_type": "prompt_enhancement", "parameters": {"style_prompts": "3d"}}],
            "pipeline[0].parameters.style_prompts",
        ),
        (
            [{"node_type": "prompt_enhancement", "parameters": {"style_prompts": ["ok", ""]}}],
            "pipeline[0].parameters.style_prompts[1]",
        ),
        (
            [{"node_type": "generation", "parameters": {"model_type": "gan"}}],
            "pipeline[0].parameters.model_type",
        ),
        ([{"node_type": "generation", "extra": 1}], "pipeline[0].extra"),
        ("not a list", "pipeline"),
        ([{"node_type": "save_image"}, {"node_type": "generation"}], "pipeline"),
    ],
)
def test_invalid_pipelines_are_refused_with_the_path_of_the_bad_field(pipeline, path):
    with pytest.raises(WorkflowConfigError) as error:
        validate_pipeline(pipeline)
    assert error.value.path == path


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"model": "dall-e"}, "model"),
        ({"scheduler": "PNDM"}, "scheduler"),
        ({"steps": 500}, "steps"),
        ({"cfg_scale": "high"}, "cfg_scale"),
        ({"width": 64}, "width"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_template_configs_are_checked_against_the_models_limits(change, path):
    with pytest.raises(WorkflowConfigError) as error:
        validate_workflow_config(THREE_D_RENDER | change)
    assert error.value.path == path


def test_new_node_types_register_with_a_decorator_and_run_in_order():
    @register_node("test_shout")
    class Shout(Node):
        parameters = {"times": ((int,), True)}

        def run(self, context):
            context.prompt = context.prompt.upper() + "!" * self.params["times"]

    try:
        pipeline = validate_pipeline(
            [
                {"node_type": "prompt_enhancement", "parameters": {"style_prompts": ["neon"]}},
                {"node_type": "test_shout", "parameters": {"times": 2}},
            ]
        )
        assert run_pipeline(pipeline, context(prompt="a car")).prompt == "A CAR, NEON!!"
        with pytest.raises(WorkflowConfigError):
            validate_pipeline([{"node_type": "test_shout", "parameters": {}}])
    finally:
        del NODE_TYPES["test_shout"]


def test_registering_a_node_type_twice_is_an_error():
    with pytest.raises(ValueError, match="already registered"):
        register_node("generation")(type("Again", (Node,), {}))


BANNER = next(entry["config"] for entry in CURATED_TEMPLATES if entry["slug"] == "banner-from-product-shot")


def test_an_extending_template_names_where_the_image_stays():
    assert validate_workflow_config(BANNER)["outpaint_anchor"] == "center"


@pytest.mark.parametrize(
    "config",
    [
        BANNER | {"outpaint_anchor": "middle"},
        {key: value for key, value in BANNER.items() if key != "width"},
        THREE_D_RENDER | {"outpaint_anchor": "left"},  # no load_image node: there is no image to extend
    ],
)
def test_a_bad_extending_template_is_refused_on_its_anchor(config):
    with pytest.raises(WorkflowConfigError) as error:
        validate_workflow_config(config)
    assert error.value.path == "outpaint_anchor"
