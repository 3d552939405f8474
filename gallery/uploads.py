"""Uploaded images (template previews, character references): checked, bounded, and re-encoded before storing.

`clean_uploaded_image(file) -> bytes` is the one entry point. It never decodes an image whose header announces
more than UPLOAD_MAX_PIXELS, keeps Pillow's MAX_IMAGE_PIXELS and treats its DecompressionBombWarning as an error,
and returns a fresh PNG, so nothing of the uploaded bytes (metadata, trailing payloads) survives.
"""

from __future__ import annotations

import io
import warnings
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError
from rest_framework import serializers

ALLOWED_FORMATS = frozenset({"PNG", "JPEG", "WEBP"})

# Pillow's own errors for truncated, corrupt or hostile files.
_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError)


def _read_bounded(file: IO[bytes] | bytes, max_bytes: int) -> bytes:
    if isinstance(file, bytes | bytearray):
        data = bytes(file)
    else:
        if hasattr(file, "seek"):
            file.seek(0)
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValidationError(
            _("The file is larger than %(mb)s MB.") % {"mb": max_bytes // (1024 * 1024)}, code="too_large"
        )
    if not data:
        raise ValidationError(_("The file is empty."), code="empty")
    return data


def clean_uploaded_image(
    file: IO[bytes] | bytes, *, max_pixels: int | None = None, max_bytes: int | None = None
) -> bytes:
    """A re-encoded PNG of the uploaded image, or ValidationError saying what is wrong with it."""
    max_pixels = max_pixels or settings.UPLOAD_MAX_PIXELS
    if Image.MAX_IMAGE_PIXELS:
        max_pixels = min(max_pixels, Image.MAX_IMAGE_PIXELS)
    data = _read_bounded(file, max_bytes or settings.UPLOAD_MAX_BYTES)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as probe:  # reads the header only
                image_format = probe.format
                width, height = probe.size
                frames = getattr(probe, "n_frames", 1)
                if image_format not in ALLOWED_FORMATS:
                    raise ValidationError(
                        _("Unsupported image format %(image_format)s; use PNG, JPEG or WebP.")
                        % {"image_format": image_format},
                        code="format",
                    )
                if frames > 1:
                    raise ValidationError(
                        _("Animated images are not accepted: upload a single still image."), code="animated"
                    )
                if width * height > max_pixels:
                    raise ValidationError(
                        _("The image is too large: %(width)sx%(height)s pixels (at most %(max_pixels)s in one frame).")
                        % {"width": width, "height": height, "max_pixels": max_pixels},
                        code="too_many_pixels",
                    )
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                image = ImageOps.exif_transpose(image)
                image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as bomb:
            raise ValidationError(
                _("The image is too large to decode safely (%(bomb)s).") % {"bomb": bomb}, code="too_many_pixels"
            ) from None
        except _DECODE_ERRORS:
            raise ValidationError(_("The file is not a valid image or is corrupt."), code="invalid_image") from None
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=6)
    return out.getvalue()


def validate_uploaded_image(file) -> None:
    """For model and form fields: `FileField(validators=[validate_uploaded_image])`."""
    clean_uploaded_image(file)


class UploadedImageField(serializers.FileField):
    """A DRF field whose value is the re-encoded PNG bytes; a bad upload is a 400 on this field."""

    def to_internal_value(self, data) -> bytes:
        file = super().to_internal_value(data)
        try:
            return clean_uploaded_image(file)
        except ValidationError as error:
            raise serializers.ValidationError(error.messages) from None
