import logging

import pytest
from django.core.exceptions import ValidationError

from generation.engine.paths import PATHS, resolve_path
from generation.engine.paths.base import ProductionPath

ALL_PATHS = ["fashion", "beauty", "eats", "cinema", "cartoon"]


def test_the_five_production_paths_are_registered_each_as_its_own_module():
    assert sorted(PATHS) == sorted(ALL_PATHS)
    modules = {type(path).__module__ for path in PATHS.values()}
    assert modules == {f"generation.engine.paths.{name}" for name in ALL_PATHS}
    assert all(isinstance(path, ProductionPath) for path in PATHS.values())


@pytest.mark.parametrize("name", ALL_PATHS)
def test_each_path_routes_to_its_module_and_its_own_queue(name):
    path = resolve_path(name)
    assert path.name == name
    assert type(path).__module__ == f"generation.engine.paths.{name}"
    assert path.queue == f"gen.{name}"


def test_fashion_runs_five_at_a_time_and_the_others_three():
    assert {name: path.concurrency for name, path in PATHS.items()} == {
        "fashion": 5,
        "beauty": 3,
        "eats": 3,
        "cinema": 3,
        "cartoon": 3,
    }


@pytest.mark.parametrize("missing", [None, ""])
def test_a_job_without_a_path_is_fashion(missing):
    assert resolve_path(missing).name == "fashion"


def test_an_unknown_path_is_rejected_with_a_field_error_by_default(settings):
    settings.UNKNOWN_PATH_POLICY = "reject"
    with pytest.raises(ValidationError) as error:
        resolve_path("fashon")
    assert "fashon" in error.value.message_dict["production_path"][0]


def test_an_unknown_path_runs_as_fashion_with_a_warning_under_use_default(settings, caplog):
    settings.UNKNOWN_PATH_POLICY = "use_default"
    with caplog.at_level(logging.WARNING, logger="generation.engine.paths"):
        assert resolve_path("fashon").name == "fashion"
    assert caplog.records[-1].path == "fashon"


def test_a_path_completes_a_pipeline_with_its_own_defaults():
    nodes = resolve_path("eats").build_pipeline([])
    assert [node["node_type"] for node in nodes] == ["prompt_enhancement", "generation", "save_image"]
    assert "food photography" in nodes[0]["parameters"]["style_prompts"]


def test_a_template_pipeline_is_kept_and_only_completed():
    template_nodes = [
        {"node_type": "prompt_enhancement", "parameters": {"style_prompts": ["3d render"]}},
        {"node_type": "generation", "parameters": {"negative_prompt": "flat"}},
    ]
    nodes = resolve_path("cartoon").build_pipeline(template_nodes)
    assert nodes[:2] == template_nodes
    assert nodes[2]["node_type"] == "save_image"
