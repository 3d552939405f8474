"""Zip downloads stream: bounded chunks, never the whole archive in memory, under WSGI and ASGI alike."""

from __future__ import annotations

import io
import zipfile

from asgiref.sync import async_to_sync
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import AsyncClient

from gallery import downloads

from ..factories import stored_image


def test_zip_chunks_stay_small_however_large_the_members(local_storage, monkeypatch):
    monkeypatch.setattr(downloads, "CHUNK_SIZE", 4096)
    payload = bytes(range(256)) * 4096  # 1 MiB each
    keys = [default_storage.save(f"images/1/1/{n}.png", ContentFile(payload)) for n in range(3)]

    chunks = list(downloads.zip_chunks((f"{n}.png", key) for n, key in enumerate(keys)))

    assert max(len(chunk) for chunk in chunks) < 64 * 1024
    assert len(chunks) > 3 * len(payload) // 4096
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.namelist() == ["0.png", "1.png", "2.png"]
    assert all(archive.read(name) == payload for name in archive.namelist())


def test_under_asgi_the_zip_streams_from_an_async_iterator(local_storage, user):
    """A sync iterator would be read whole into a list by Django's ASGI handler before sending a byte."""
    images = [stored_image(user, prompt=f"look {n}") for n in range(2)]
    client = AsyncClient()
    client.force_login(user)

    async def download():
        response = await client.post(
            "/api/v1/images/download", {"ids": [str(image.uuid) for image in images]}, content_type="application/json"
        )
        return response, b"".join([chunk async for chunk in response.streaming_content])

    response, body = async_to_sync(download)()

    assert response.status_code == 200
    assert response.is_async
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert len(archive.namelist()) == 2
    assert archive.testzip() is None
