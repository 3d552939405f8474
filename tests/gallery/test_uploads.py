"""Uploaded images are checked from the header, bounded, and re-encoded; bad ones are a clear 400."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import path
from PIL import Image, PngImagePlugin
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from gallery.uploads import UploadedImageField, clean_uploaded_image


def encoded(fmt: str = "PNG", size=(40, 30), mode="RGB", **save) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (10, 120, 200) if mode == "RGB" else (10, 120, 200, 128)).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header announces width x height pixels: the shape of a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


@pytest.mark.parametrize(("fmt", "mode"), [("PNG", "RGB"), ("PNG", "RGBA"), ("JPEG", "RGB"), ("WEBP", "RGB")])
def test_valid_images_come_back_as_a_fresh_png(fmt, mode):
    cleaned = clean_uploaded_image(SimpleUploadedFile("in.img", encoded(fmt, mode=mode)))

    image = Image.open(io.BytesIO(cleaned))
    assert image.format == "PNG"
    assert image.size == (40, 30)
    assert image.mode == mode


def test_metadata_and_trailing_bytes_do_not_survive():
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<script>alert(1)</script>")
    original = encoded("PNG", pnginfo=info) + b"<?php system($_GET['c']); ?>"

    cleaned = clean_uploaded_image(io.BytesIO(original))

    assert b"script" not in cleaned
    assert b"php" not in cleaned
    assert Image.open(io.BytesIO(cleaned)).text == {}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"just some text, not an image", "not a valid image"),
        (encoded("PNG")[:80], "not a valid image"),
        (encoded("PNG")[:40] + b"\x00" * 60 + encoded("PNG")[100:], "not a valid image"),
        (encoded("GIF"), "Unsupported image format GIF"),
        (encoded("BMP"), "Unsupported image format BMP"),
    ],
    ids=["empty", "text", "truncated", "corrupt", "gif", "bmp"],
)
def test_bad_files_are_rejected_with_a_clear_message(data, message):
    with pytest.raises(ValidationError) as error:
        clean_uploaded_image(io.BytesIO(data))
    assert message in error.value.messages[0]


def test_a_file_over_the_size_cap_is_rejected_without_reading_it_all(settings):
    settings.UPLOAD_MAX_BYTES = 1024
    with pytest.raises(ValidationError, match="larger than"):
        clean_uploaded_image(io.BytesIO(b"\x89PNG" + b"\x00" * 5000))


def test_a_decompression_bomb_is_refused_from_its_header_before_decoding():
    bomb = png_header_only(50_000, 50_000)  # 2.5 gigapixels, in a few hundred bytes
    assert len(bomb) < 2000

    tracemalloc.start()
    try:
        with pytest.raises(ValidationError, match="too large"):
            clean_uploaded_image(io.BytesIO(bomb))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 1024 * 1024


def test_pillows_bomb_warning_is_an_error(monkeypatch, settings):
    """Even with our own cap set higher, Pillow's MAX_IMAGE_PIXELS warning refuses the file."""
    settings.UPLOAD_MAX_PIXELS = 10**12
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)

    with pytest.raises(ValidationError, match="too large"):
        clean_uploaded_image(io.BytesIO(encoded("PNG", size=(40, 30))))  # 1200 pixels: over 1000, under 2000


def test_the_pixel_cap_applies(settings):
    settings.UPLOAD_MAX_PIXELS = 1000
    with pytest.raises(ValidationError, match="at most 1000"):
        clean_uploaded_image(io.BytesIO(encoded("PNG", size=(40, 30))))


# --- Through the API: a view using the reusable DRF field -----------------------------------------


class PreviewSerializer(serializers.Serializer):
    image = UploadedImageField()


class PreviewUploadView(APIView):
    def post(self, request):
        serializer = PreviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response({"bytes": len(serializer.validated_data["image"])})


urlpatterns = [path("upload", PreviewUploadView.as_view())]


@pytest.mark.urls(__name__)
class TestUploadThroughTheApi:
    def test_a_good_upload_is_accepted(self, api_client):
        upload = SimpleUploadedFile("preview.jpg", encoded("JPEG"), content_type="image/jpeg")

        response = api_client.post("/upload", {"image": upload}, format="multipart")

        assert response.status_code == 200
        assert response.json()["bytes"] > 0

    @pytest.mark.parametrize(
        "data", [b"not an image", png_header_only(60_000, 60_000)], ids=["not-an-image", "decompression-bomb"]
    )
    def test_a_bad_upload_is_a_400_in_the_standard_format(self, api_client, data):
        upload = SimpleUploadedFile("preview.png", data, content_type="image/png")

        response = api_client.post("/upload", {"image": upload}, format="multipart")

        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "invalid"
        assert list(error["fields"]) == ["image"]
        assert error["message"].startswith("image: The ")
