"""The worker's local copies of LoRA style files: fetched from storage once per content (named by sha256, the
hash checked as it is written), then handed to the engine as paths (diffusers loads adapters from files).

Kept in DATA_DIR/style-files, at most STYLE_CACHE_MAX_MB x DISK_FACTOR on disk: the least recently used go
first, never the one just asked for.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage

from .engine.diffusion.lora import StyleUnavailable

logger = logging.getLogger(__name__)

# Files on disk may outnumber the adapters in memory: a fetch costs more than a load from a local file.
DISK_FACTOR = 4
CHUNK = 2**20
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def style_files_dir() -> Path:
    return Path(settings.DATA_DIR) / "style-files"


def local_style_file(style: dict[str, Any]) -> str:
    """The path of a job's style (an entry of GenerationJob.styles) on this machine, fetched if it is not here.

    Raises StyleUnavailable (the job fails, refunded) when the stored file is missing or is not the one the
    style recorded (its sha256)."""
    sha256, name = str(style.get("sha256", "")).lower(), style.get("name", "?")
    if not SHA256.match(sha256):
        raise StyleUnavailable(f"Style {name!r} has no valid checksum on record.")
    folder = style_files_dir()
    path = folder / f"{sha256}.safetensors"
    if path.is_file():
        path.touch()  # most recently used
        return str(path)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"{sha256}.{uuid.uuid4().hex}.part"
    digest = hashlib.sha256()
    try:
        with default_storage.open(style["file"], "rb") as source, partial.open("wb") as target:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                target.write(chunk)
        if digest.hexdigest() != sha256:
            raise StyleUnavailable(
                f"Style {name!r}'s stored file does not match its checksum: it was changed or damaged in storage. "
                "Upload the style again."
            )
        os.replace(partial, path)
    except FileNotFoundError:
        raise StyleUnavailable(f"Style {name!r}'s file is missing from storage. Upload the style again.") from None
    finally:
        partial.unlink(missing_ok=True)
    logger.info("style file fetched", extra={"sha256": sha256, "bytes": path.stat().st_size})
    _prune(keep=path)
    return str(path)


def _prune(*, keep: Path) -> None:
    """Delete least recently used files until the folder fits STYLE_CACHE_MAX_MB x DISK_FACTOR."""
    budget = settings.STYLE_CACHE_MAX_MB * 2**20 * DISK_FACTOR
    files = sorted(style_files_dir().glob("*.safetensors"), key=lambda p: p.stat().st_mtime)
    used = sum(p.stat().st_size for p in files)
    for old in files:
        if used <= budget:
            return
        if old != keep:
            used -= old.stat().st_size
            old.unlink(missing_ok=True)
