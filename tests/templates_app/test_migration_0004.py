"""templates_app/migrations/0004: an installed 3D render (seeded before template inputs) gets its two inputs as a
new version; its jobs keep the version they ran with; a template whose staff declared inputs is left alone."""

from __future__ import annotations

import importlib

from django.apps import apps

from templates_app.models import Template
from templates_app.seed_templates import CURATED_TEMPLATES, RENDER_INPUTS

from ..factories import GenerationJobFactory

migration = importlib.import_module("templates_app.migrations.0004_template_inputs")
RENDER = next(spec for spec in CURATED_TEMPLATES if spec["slug"] == "3d-render")


def installed_before_inputs() -> Template:
    config = {key: value for key, value in RENDER["config"].items() if key != "inputs"}
    return Template.objects.create(version=1, **{**RENDER, "config": config})


def test_the_installed_render_template_gets_its_inputs_as_a_new_version(db):
    old = installed_before_inputs()
    job = GenerationJobFactory(template=old)
    migration.add_render_inputs(apps, None)
    current = Template.objects.latest_active("3d-render")
    assert (current.version, current.config["inputs"]) == (2, RENDER_INPUTS)
    assert current.config["pipeline"] == old.config["pipeline"]
    old.refresh_from_db()
    assert not old.is_active and "inputs" not in old.config
    job.refresh_from_db()
    assert job.template == old


def test_it_runs_once_and_leaves_declared_inputs_alone(db):
    installed_before_inputs()
    migration.add_render_inputs(apps, None)
    migration.add_render_inputs(apps, None)
    assert Template.objects.filter(slug="3d-render").count() == 2


def test_an_installation_without_the_template_is_untouched(db):
    migration.add_render_inputs(apps, None)
    assert not Template.objects.filter(slug="3d-render").exists()
