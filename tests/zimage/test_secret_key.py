"""Without SECRET_KEY, the embedded settings sign with a random key of their own, made once in the data directory."""

import ast
import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRINT_KEY = "import zimage.settings as s; print(s.SECRET_KEY)"


def start_settings(data_dir: Path) -> subprocess.Popen:
    """A process loading `zimage.settings` as `make run`'s web, worker and beat do: no SECRET_KEY in its env."""
    env = {key: value for key, value in os.environ.items() if key not in ("SECRET_KEY", "DJANGO_SETTINGS_MODULE")}
    env["ZIMAGE_DATA_DIR"] = str(data_dir)
    return subprocess.Popen(
        [sys.executable, "-c", PRINT_KEY], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def keys_of(processes: list[subprocess.Popen]) -> list[str]:
    keys = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err[-2000:]
        keys.append(out.strip())
    return keys


def test_processes_started_together_share_one_random_key_kept_for_the_next_start(tmp_path):
    keys = keys_of([start_settings(tmp_path) for _ in range(6)])
    assert len(set(keys)) == 1 and len(keys[0]) >= 50
    assert (tmp_path / "secret_key").read_text().strip() == keys[0]
    assert keys_of([start_settings(tmp_path)]) == keys[:1]
    assert [path.name for path in tmp_path.iterdir()] == ["secret_key"]  # no temporary file left behind


def test_each_data_directory_gets_its_own_key(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    assert keys_of([start_settings(first)]) != keys_of([start_settings(second)])


def test_the_key_file_is_readable_by_its_owner_only(tmp_path):
    keys_of([start_settings(tmp_path)])
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_no_signing_key_is_a_constant_in_the_settings_package():
    """No `SECRET_KEY = ...` (nor SIGNING_KEY) in zimage/ holds a string literal, a default included."""
    found = []
    for path in (ROOT / "zimage").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id in ("SECRET_KEY", "SIGNING_KEY") for target in node.targets
            ):
                literals = [
                    value.value
                    for value in ast.walk(node.value)
                    if isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                    and value.value not in ("", "SECRET_KEY")  # the environment variable's name is no key
                ]
                found += [f"{path.relative_to(ROOT)}:{node.lineno}: {literal!r}" for literal in literals]
    assert found == []
