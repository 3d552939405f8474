import json
import logging
import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError

from generation import runner
from generation.engine.paths import PATH_CHOICES, PATHS, QUEUE_NAMES, PathSpec, resolve_path
from generation.models import GenerationJob
from tests.factories import GenerationJobFactory

ALL_PATHS = ["fashion", "beauty", "eats", "cinema", "cartoon"]
ROOT = Path(django_settings.BASE_DIR)


def test_the_five_production_paths_are_one_table_of_specs():
    assert list(PATHS) == ALL_PATHS
    assert all(isinstance(path, PathSpec) and path.name == name for name, path in PATHS.items())


@pytest.mark.parametrize("name", ALL_PATHS)
def test_each_path_routes_to_its_own_queue(name):
    path = resolve_path(name)
    assert path.name == name
    assert path.queue == f"gen.{name}"


def test_the_job_choices_and_the_celery_queues_come_from_the_table():
    assert GenerationJob._meta.get_field("production_path").choices == PATH_CHOICES
    assert ("default", *(f"gen.{name}" for name in ALL_PATHS)) == QUEUE_NAMES
    from zimage.celery import app

    assert [queue.name for queue in app.conf.task_queues] == list(QUEUE_NAMES)


def test_compose_and_the_dockerfile_run_workers_on_every_queue():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = compose["services"]["worker"]["command"]
    assert command[command.index("-Q") + 1].split(",") == list(QUEUE_NAMES)
    commands = [json.loads(line) for line in re.findall(r"^CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.M)]
    (dockerfile_command,) = [command for command in commands if "worker" in command]
    assert dockerfile_command[dockerfile_command.index("-Q") + 1].split(",") == list(QUEUE_NAMES)


def test_fashion_runs_five_at_a_time_and_the_others_three():
    """`concurrency` is how many of a path's jobs run at once across all workers (the claim enforces it)."""
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


@pytest.mark.django_db
def test_a_worker_leaves_a_job_queued_while_its_path_runs_its_concurrency(user, other_user):
    for _ in range(PATHS["cinema"].concurrency):
        GenerationJobFactory(owner=other_user, production_path="cinema", running=True)
    waiting = GenerationJobFactory(owner=user, production_path="cinema")
    with pytest.raises(runner.PathAtConcurrencyLimit):
        runner.execute_job(job_id=waiting.pk, dispatch_token=str(waiting.dispatch_token))
    waiting.refresh_from_db()
    assert (waiting.status, waiting.deliveries) == ("queued", 0)
