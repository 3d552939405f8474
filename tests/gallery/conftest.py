"""Gallery fixtures: a real S3 HTTP server (moto's standalone server in its own process, tests.s3), local storage
in a temporary folder."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..s3 import S3_ACCESS_KEY, S3_SECRET_KEY, S3Server, running_s3_server, s3_storage_settings

__all__ = ["S3_ACCESS_KEY", "S3_SECRET_KEY", "s3_storage_settings"]  # imported from here by other test modules


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[S3Server]:
    """moto's S3 server for the whole session (tests.s3)."""
    with running_s3_server(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server


@dataclass
class StorageUnderTest:
    kind: str
    bucket: str | None = None
    root: Path | None = None
    server: S3Server | None = None

    def keys(self) -> set[str]:
        """Every object stored right now, to prove nothing is left behind."""
        if self.kind == "s3":
            pages = self.server.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
            return {item["Key"] for page in pages for item in page.get("Contents", [])}
        return {path.relative_to(self.root).as_posix() for path in self.root.rglob("*") if path.is_file()}


@pytest.fixture
def s3_storage(s3_server, settings) -> StorageUnderTest:
    """Default storage = S3 on the moto server, in a fresh bucket of this test's own."""
    bucket = f"zimage-test-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=bucket)
    settings.STORAGES = {**settings.STORAGES, "default": s3_storage_settings(s3_server.endpoint, bucket)}
    return StorageUnderTest(kind="s3", bucket=bucket, server=s3_server)


@pytest.fixture
def local_storage(settings, tmp_path) -> StorageUnderTest:
    root = tmp_path / "media"
    root.mkdir()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": root, "base_url": "/media/"},
        },
    }
    return StorageUnderTest(kind="local", root=root)


@pytest.fixture(params=["local", "s3"])
def storage(request) -> StorageUnderTest:
    """Each test using this runs twice: on local files and on the S3 server."""
    return request.getfixturevalue(f"{request.param}_storage")
