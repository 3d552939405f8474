"""The worker's local copies of style files (generation.style_files): fetched once per content, hash-checked,
kept within their disk budget."""

import os
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from generation.engine.diffusion.lora import StyleUnavailable
from generation.style_files import local_style_file, style_files_dir
from tests.factories import stored_style

DATA = b"not read as a LoRA here: only fetched and hashed" * 100


@pytest.fixture(autouse=True)
def empty_folder():
    folder = style_files_dir()
    for path in folder.glob("*") if folder.exists() else ():
        path.unlink()


def test_a_style_is_fetched_by_its_sha256_and_then_read_locally(db):
    style = stored_style(DATA)
    path = Path(local_style_file(style))
    assert path.name == f"{style['sha256']}.safetensors" and path.read_bytes() == DATA
    default_storage.delete(style["file"])
    assert local_style_file(style) == str(path)  # not fetched again: storage is no longer asked


def test_a_stored_file_that_does_not_match_its_sha256_is_refused_and_not_kept(db):
    style = stored_style(DATA, name="Swapped") | {"sha256": "ab" * 32}
    with pytest.raises(StyleUnavailable, match=r"Style 'Swapped'.s stored file does not match its checksum"):
        local_style_file(style)
    assert list(style_files_dir().glob("*")) == []


def test_a_missing_stored_file_is_refused(db):
    style = stored_style(DATA, name="Gone")
    default_storage.delete(style["file"])
    with pytest.raises(StyleUnavailable, match=r"Style 'Gone'.s file is missing from storage"):
        local_style_file(style)


def test_a_style_without_a_valid_checksum_is_refused_before_any_fetch(db):
    with pytest.raises(StyleUnavailable, match="no valid checksum"):
        local_style_file({"name": "Odd", "sha256": "../../etc/passwd", "file": "styles/x.safetensors"})


def test_past_the_disk_budget_the_least_recently_used_files_go_first(db, settings):
    settings.STYLE_CACHE_MAX_MB = 1  # 4 MB on disk
    megabytes = [bytes([n]) * 2**20 * 2 for n in range(3)]  # three 2 MB files
    styles = [stored_style(data) for data in megabytes]
    first, second = Path(local_style_file(styles[0])), Path(local_style_file(styles[1]))
    os.utime(first, (1, 1))  # least recently used
    os.utime(second, (2, 2))
    third = Path(local_style_file(styles[2]))
    assert not first.exists() and second.exists() and third.exists()
