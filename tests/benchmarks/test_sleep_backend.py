"""The scale simulation's sleeping pipeline (benchmarks/_sleep_backend.py) is for benchmarks only: no setting a
user or operator sets can select it, and nothing outside benchmarks/ imports it."""

from pathlib import Path

import pytest

from generation.engine.diffusion.backends import build_backend

ROOT = Path(__file__).resolve().parents[2]


def test_the_backend_setting_refuses_the_sleep_backend():
    with pytest.raises(ValueError, match="auto, tiny or diffusers"):
        build_backend("sleep")


def test_no_application_module_imports_it():
    importers = [
        path
        for path in ROOT.glob("*/**/*.py")
        if path.parts[len(ROOT.parts)] not in ("benchmarks", "tests", ".venv") and "_sleep_backend" in path.read_text()
    ]
    assert importers == []
