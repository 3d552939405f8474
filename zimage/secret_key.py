"""The signing key of an instance started without SECRET_KEY: random, made once, kept in the data directory.

A constant in the repository would let anyone mint JWTs and session cookies for any user of every such
instance. The file is owner-only (0600) and appears complete or not at all (written to a private temporary
file, then hard-linked into place), so web, worker and beat processes started together all read one key.
Imports nothing from Django: zimage.settings calls it while it loads.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

KEY_FILE_NAME = "secret_key"


def load_or_create_secret_key(data_dir: Path) -> str:
    """The key in `data_dir/secret_key`; the first caller writes a new one, every later or concurrent one reads it."""
    path = Path(data_dir) / KEY_FILE_NAME
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{KEY_FILE_NAME}.{os.getpid()}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(50) + "\n")
            file.flush()
            os.fsync(file.fileno())
        # Fails if another process linked its key first: then that one is the key.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> str:
    key = path.read_text().strip()
    if len(key) < 50:
        raise RuntimeError(f"{path} holds no usable key: delete it to have a new one made, or set SECRET_KEY.")
    return key
