"""Writing images: the PNG with its metadata, a WebP thumbnail, and the row, all or nothing."""

from __future__ import annotations

import io
import json
import logging
import uuid
from typing import TYPE_CHECKING

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from PIL import Image, PngImagePlugin

from .models import GeneratedImage, ImageType

if TYPE_CHECKING:
    from generation.models import GenerationJob

logger = logging.getLogger(__name__)

THUMBNAIL_SIDE = 256


def image_key(job: GenerationJob, name: str) -> str:
    return f"images/{job.owner_id}/{job.pk}/{name}"


def encode_png(image: Image.Image, metadata: dict[str, str | int | float]) -> bytes:
    """PNG with each parameter as a tEXt chunk, plus all of them as one JSON chunk for tools."""
    info = PngImagePlugin.PngInfo()
    for key, value in metadata.items():
        info.add_text(key, str(value))
    info.add_text("zimage", json.dumps(metadata, sort_keys=True))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG", pnginfo=info, optimize=False, compress_level=4)
    return buffer.getvalue()


def encode_thumbnail(image: Image.Image) -> bytes:
    thumb = image.convert("RGB")
    thumb.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    thumb.save(buffer, format="WEBP", quality=80, method=4)
    return buffer.getvalue()


def delete_stored(*names: str) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:  # best effort: the original error matters more than this cleanup
            logger.exception("could not delete stored object", extra={"key": name})


def store_generated_image(
    *,
    job: GenerationJob,
    index: int,
    image: Image.Image,
    prompt_used: str,
    negative_prompt_used: str,
    seed: int,
    backend: str,
    generation_seconds: float,
    image_type: str = ImageType.GENERAL,
) -> GeneratedImage:
    """Store one finished image. Idempotent per (job, index): a re-run returns the existing row."""
    existing = GeneratedImage.objects.filter(job=job, index=index).first()
    if existing is not None:
        return existing
    metadata = {
        "prompt": prompt_used,
        "negative_prompt": negative_prompt_used,
        "seed": seed,
        "model": job.model,
        "backend": backend,
        "scheduler": job.scheduler,
        "steps": job.steps,
        "guidance": job.guidance,
        "size": f"{image.width}x{image.height}",
        "production_path": job.production_path,
        "job": job.pk,
    }
    name = uuid.uuid4().hex
    original_key = default_storage.save(image_key(job, f"{name}.png"), ContentFile(encode_png(image, metadata)))
    try:
        thumbnail_key = default_storage.save(image_key(job, f"{name}.thumb.webp"), ContentFile(encode_thumbnail(image)))
    except Exception:
        delete_stored(original_key)
        raise
    try:
        with transaction.atomic():
            return GeneratedImage.objects.create(
                owner_id=job.owner_id,
                job=job,
                index=index,
                image_type=image_type,
                file=original_key,
                thumbnail=thumbnail_key,
                width=image.width,
                height=image.height,
                seed=seed,
                model=job.model,
                backend=backend,
                steps=job.steps,
                guidance=job.guidance,
                prompt_used=prompt_used,
                negative_prompt_used=negative_prompt_used,
                generation_seconds=generation_seconds,
                production_path=job.production_path,
                template_id=job.template_id,
            )
    except IntegrityError:
        # Another delivery stored this index first: keep theirs, drop our copy.
        delete_stored(original_key, thumbnail_key)
        return GeneratedImage.objects.get(job=job, index=index)
    except Exception:
        delete_stored(original_key, thumbnail_key)
        raise
