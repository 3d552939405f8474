"""The web process stays free of the diffusion stack, and production settings pass `check --deploy`."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Loads everything a web process serves: ASGI app (HTTP + WebSocket routes), every URL's view
# module, the job API, services and tasks, and every app's tasks module the Celery app discovers.
WEB_PROCESS_PROBE = """
import importlib, json, sys
import django

django.setup()
import zimage.asgi, zimage.urls
from django.urls import URLResolver, get_resolver
from zimage import celery_app


def view_modules(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from view_modules(pattern.url_patterns)
        else:
            yield pattern.callback.__module__


views = sorted(set(view_modules(get_resolver().url_patterns)))
for name in [*views, "generation.api", "generation.services", "generation.tasks", *sys.argv[1:]]:
    importlib.import_module(name)
celery_app.loader.import_default_modules()
print(json.dumps({"views": views, "torch": "torch" in sys.modules, "diffusers": "diffusers" in sys.modules}))
"""


def run_probe(*extra_modules: str) -> dict:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run(
        [sys.executable, "-c", WEB_PROCESS_PROBE, *extra_modules],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def manage_check_deploy(**env_changes: str | None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "zimage.production", "ALLOWED_HOSTS": "example.com"}
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_web_process_never_imports_torch_or_diffusers():
    loaded = run_probe()
    assert "generation.api" in loaded["views"]
    assert "core.health" in loaded["views"]
    assert loaded["torch"] is False
    assert loaded["diffusers"] is False


def test_the_probe_sees_torch_when_a_worker_only_module_is_imported():
    assert run_probe("generation.engine.diffusion.backends")["torch"] is True


def test_production_settings_pass_check_deploy_at_warning_level():
    result = manage_check_deploy(SECRET_KEY=secrets.token_urlsafe(64))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    result = manage_check_deploy(SECRET_KEY=None)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
