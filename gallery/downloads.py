"""Zip downloads streamed straight from storage: one chunk in memory at a time, whatever the selection's size."""

from __future__ import annotations

import zipfile
from collections.abc import AsyncIterator, Iterable, Iterator

from asgiref.sync import sync_to_async
from django.core.files.storage import default_storage
from django.http import StreamingHttpResponse

CHUNK_SIZE = 64 * 1024


class _Pipe:
    """A write-only, unseekable file for ZipFile: it keeps what was written until the generator hands it on."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def zip_chunks(entries: Iterable[tuple[str, str]]) -> Iterator[bytes]:
    """The bytes of a zip holding each (name in the archive, storage key), read and written CHUNK_SIZE at a time.

    PNGs are already compressed, so members are stored; zip64 keeps any total size valid.
    """
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for arcname, key in entries:
            with default_storage.open(key, "rb") as source, archive.open(arcname, mode="w", force_zip64=True) as dest:
                while chunk := source.read(CHUNK_SIZE):
                    dest.write(chunk)
                    if data := pipe.drain():
                        yield data
            if data := pipe.drain():
                yield data
    if data := pipe.drain():
        yield data


async def _async_chunks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Under ASGI a sync iterator would be read whole into a list first; pull it a chunk at a time instead."""
    sentinel = object()
    pull = sync_to_async(next, thread_sensitive=False)
    while (chunk := await pull(chunks, sentinel)) is not sentinel:
        yield chunk


def zip_response(entries: Iterable[tuple[str, str]], *, filename: str, asynchronous: bool) -> StreamingHttpResponse:
    """`asynchronous`: the request came through ASGI (daphne), which wants an async iterator to stream."""
    chunks = zip_chunks(entries)
    response = StreamingHttpResponse(_async_chunks(chunks) if asynchronous else chunks, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
