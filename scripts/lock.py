"""Write the lock files (`make lock`): every transitive dependency, pinned with its hash, by `pip lock`.

pylock.toml          web + worker + embedded + dev: `make install`, CI and the test suite's .venv
pylock.web.toml      web: the web image (gunicorn, daphne, beat, migrate, flower)
pylock.worker.toml   worker: the worker image (web + the diffusion stack)

The full set is resolved first and the two images' sets are resolved under its versions, so a package has
one version in every lock. Each lock records a hash of pyproject.toml's dependency groups: a pin changed
without relocking fails tests/zimage/test_lock.py.

PyPI is the only index (`--isolated` ignores a machine's mirrors, whose file:// addresses would not resolve
elsewhere); PIP_FIND_LINKS is kept, which is where this machine's CPU build of torch 2.13.0 lies.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
# Lock file -> the dependency groups it installs.
LOCKS: dict[str, tuple[str, ...]] = {
    "pylock.toml": ("web", "worker", "embedded", "dev"),
    "pylock.web.toml": ("web",),
    "pylock.worker.toml": ("worker",),
}
HASH_KEY = "dependency-groups-sha256"


def dependency_groups_hash() -> str:
    """What the locks were made from: requires-python and every dependency group, as written."""
    project = tomllib.loads(PYPROJECT.read_text())
    inputs = {"requires-python": project["project"]["requires-python"], "groups": project["dependency-groups"]}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def recorded_hash(lock: Path) -> str | None:
    return tomllib.loads(lock.read_text()).get("tool", {}).get("zimage", {}).get(HASH_KEY)


def locked_versions(lock: Path) -> dict[str, str]:
    """Package name -> locked version."""
    return {package["name"]: package["version"] for package in tomllib.loads(lock.read_text())["packages"]}


def pip_lock(groups: tuple[str, ...], output: Path, constraints: Path | None = None) -> None:
    command = [sys.executable, "-m", "pip", "lock", "--quiet", "--isolated", "--index-url", "https://pypi.org/simple"]
    command += [f"--find-links={link}" for link in os.environ.get("PIP_FIND_LINKS", "").split()]
    command += [f"--group={group}" for group in groups]
    if constraints is not None:
        command += ["--constraint", str(constraints)]
    subprocess.run([*command, "--output", str(output)], cwd=ROOT, check=True)
    with output.open("a") as handle:
        handle.write(f'\n[tool.zimage]\n{HASH_KEY} = "{dependency_groups_hash()}"\n')


def main() -> int:
    (full_name, full_groups), *subsets = LOCKS.items()
    pip_lock(full_groups, ROOT / full_name)
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as constraints:
        pins = locked_versions(ROOT / full_name)
        constraints.write("".join(f"{name}=={version}\n" for name, version in pins.items()))
        constraints.flush()
        for name, groups in subsets:
            pip_lock(groups, ROOT / name, Path(constraints.name))
    for name in LOCKS:
        print(f"locked {name}: {len(locked_versions(ROOT / name))} packages", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
