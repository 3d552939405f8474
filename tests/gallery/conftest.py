"""Gallery fixtures: a real S3 HTTP server (moto's standalone server in its own process), local storage in a
temporary folder."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import pytest

from ..processes import free_port

S3_ACCESS_KEY = "zimage-test"
S3_SECRET_KEY = "zimage-test-secret"


@dataclass
class S3Server:
    endpoint: str
    process: subprocess.Popen

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=S3_SECRET_KEY,
        )


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """`python -m moto.server` on a free loopback port: a separate process speaking S3 over HTTP."""
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{endpoint}/moto-api/", timeout=1)
            break
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("moto server did not start") from None
            time.sleep(0.1)
    yield S3Server(endpoint=endpoint, process=process)
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    if process.poll() is None:
        process.kill()
    log.close()


def s3_storage_settings(endpoint: str, bucket: str) -> dict:
    """The same options zimage.settings uses for S3, pointed at the test server."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint,
            "region_name": "us-east-1",
            "access_key": S3_ACCESS_KEY,
            "secret_key": S3_SECRET_KEY,
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": 3600,
            "file_overwrite": False,
            "signature_version": "s3v4",
            "addressing_style": "path",
        },
    }


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
