"""scripts/backup against a stand-in `docker` that records its calls and plays pg_dump, pg_restore and mc."""

import os
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "backup"

# The stand-in: logs each call; `exec ... pg_dump` prints a dump, `exec ... pg_restore` records its stdin,
# `run ... mc mirror` writes (backup) or lists (restore) the folder mounted at /backup.
FAKE_DOCKER = r"""#!/usr/bin/env bash
printf '%s\n' "$*" >>"$FAKE_LOG"
args="$*"
mount=$(printf '%s\n' "$@" | sed -n 's#^\(/[^:]*\):/backup.*#\1#p')
case $args in
    *"pg_dump"*) printf 'PGDMP fake dump\n' ;;
    *"pg_restore"*) cat >"$FAKE_LOG.restored" ;;
    *"mc mirror --overwrite --preserve"*) mkdir -p "$mount/images/7" && printf 'png' >"$mount/images/7/0.png" ;;
    *"mc mirror --overwrite /backup"*) find "$mount" -type f | sort >"$FAKE_LOG.mirrored" ;;
esac
"""


@pytest.fixture
def fake_docker(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(docker.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "docker.log"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_LOG": str(log)}
    return env, log


def run(*args, env, **kwargs):
    return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60, **kwargs)


def test_the_script_is_executable_bash():
    assert os.access(SCRIPT, os.X_OK)
    assert SCRIPT.read_text().startswith("#!/usr/bin/env bash")
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0


def test_a_backup_is_a_dated_folder_with_the_dump_the_bucket_and_checksums(tmp_path, fake_docker):
    env, log = fake_docker
    result = run(str(tmp_path / "backups"), env=env)
    assert result.returncode == 0, result.stderr
    folder = Path(result.stdout.strip())
    assert folder.parent == tmp_path / "backups" and folder.name.startswith("zimage-20")
    assert (folder / "postgres.dump").read_text() == "PGDMP fake dump\n"
    assert (folder / "bucket" / "images" / "7" / "0.png").read_bytes() == b"png"
    assert subprocess.run(["sha256sum", "--check", "SHA256SUMS"], cwd=folder, capture_output=True).returncode == 0
    calls = log.read_text().splitlines()
    assert calls[0] == "compose exec -T postgres pg_dump -U zimage -d zimage --format=custom --no-owner"
    assert calls[1].startswith(
        f"compose run --rm --no-deps -T -v {folder.parent}/.{folder.name}.partial/bucket:/backup"
    )
    assert "minio-init" in calls[1] and 'mc mirror --overwrite --preserve "zimage/$BUCKET" /backup' in calls[1]
    assert not list(folder.parent.glob(".*.partial"))


def test_a_failed_dump_leaves_no_backup_behind(tmp_path, fake_docker):
    env, _ = fake_docker
    broken = tmp_path / "bin" / "docker"
    broken.write_text("#!/usr/bin/env bash\nexit 3\n")
    result = run(str(tmp_path / "backups"), env=env)
    assert result.returncode != 0
    assert not [path for path in (tmp_path / "backups").iterdir() if not path.name.endswith(".partial")]


def test_restore_checks_the_backup_stops_writers_restores_both_and_restarts(tmp_path, fake_docker):
    env, log = fake_docker
    folder = Path(run(str(tmp_path / "backups"), env=env).stdout.strip())
    log.write_text("")
    result = run("--restore", str(folder), "--yes", env=env)
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert calls[0] == "compose stop web worker beat"
    assert calls[1].startswith("compose exec -T postgres pg_restore -U zimage -d zimage --clean --if-exists")
    assert f"-v {folder}/bucket:/backup:ro" in calls[2] and "mc mirror --overwrite /backup" in calls[2]
    assert calls[3] == "compose start web worker beat"
    assert Path(f"{log}.restored").read_text() == "PGDMP fake dump\n"
    assert Path(f"{log}.mirrored").read_text().strip().endswith("bucket/images/7/0.png")


def test_restore_refuses_a_backup_whose_checksums_differ(tmp_path, fake_docker):
    env, log = fake_docker
    folder = Path(run(str(tmp_path / "backups"), env=env).stdout.strip())
    (folder / "postgres.dump").write_text("tampered\n")
    log.write_text("")
    result = run("--restore", str(folder), "--yes", env=env)
    assert result.returncode == 1 and "checksums differ" in result.stderr
    assert log.read_text() == ""


def test_restore_asks_first_and_does_nothing_without_the_word(tmp_path, fake_docker):
    env, log = fake_docker
    folder = Path(run(str(tmp_path / "backups"), env=env).stdout.strip())
    log.write_text("")
    result = run("--restore", str(folder), env=env, input="yes\n")
    assert result.returncode == 1 and "nothing changed" in result.stderr
    assert log.read_text() == ""
