"""Writes for the gallery: storing finished images (PNG with metadata + WebP thumbnail, all or nothing),
organising them (folders, tags, favourites), the trash, and share links.

Stored objects leave with their rows: gallery.signals removes a deleted image's files once the delete commits.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import io
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import IO, TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, PngImagePlugin

from core.errors import DomainError
from generation.engine.job_input import JobMode

from .models import Folder, GeneratedImage, ImageType, ShareLink, SourceImage, SourceKind, Tag
from .selectors import trash_cutoff
from .uploads import clean_uploaded_image

if TYPE_CHECKING:
    from accounts.models import User
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
    # Level 1: measured 137 ms vs 239 ms (level 4) for a 1024 px image, for 12 % more bytes; the
    # encode runs on the GPU worker between images, so it is product overhead.
    image.convert("RGB").save(buffer, format="PNG", pnginfo=info, optimize=False, compress_level=1)
    return buffer.getvalue()


def encode_thumbnail(image: Image.Image) -> bytes:
    thumb = image.convert("RGB")
    thumb.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    # Method 2 (of 0-6): half the encode time of the default 4 for about 4 % more bytes (measured at 1024 px:
    # 5.8 vs 12.8 ms), and the encode runs on the GPU worker between images.
    thumb.save(buffer, format="WEBP", quality=80, method=2)
    return buffer.getvalue()


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The chunks that draw the picture (and its colour space); everything else is dropped from a shared copy:
# tEXt/zTXt/iTXt (the prompt, negative prompt, seed, job id), tIME, eXIf and any private chunk.
PICTURE_CHUNKS = frozenset(
    {b"IHDR", b"PLTE", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"pHYs", b"IDAT", b"IEND"}
)


def strip_png_metadata(data: bytes) -> bytes:
    """The same PNG, byte for byte in its picture chunks, without its metadata: lossless, no re-encode."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("Not a PNG.")
    kept = [PNG_SIGNATURE]
    position = len(PNG_SIGNATURE)
    while position + 8 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        end = position + 12 + length  # length, type, data, CRC
        if end > len(data):
            raise ValueError("Truncated PNG.")
        if kind in PICTURE_CHUNKS:
            kept.append(data[position:end])
        position = end
        if kind == b"IEND":
            break
    return b"".join(kept)


def delete_stored(*names: str) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:  # best effort: the original error matters more than this cleanup
            logger.exception("could not delete stored object", extra={"key": name})


# upload_all's second thread, one per process (a worker stores its images from one thread, in order).
_uploads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zimage-upload")


def upload_all(job: GenerationJob, name: str, files: dict[str, Callable[[], bytes]]) -> dict[str, str]:
    """Each file's bytes encoded and saved as `<name>.<suffix>` under the job's prefix: the storage key by suffix.
    All or none: when one fails, the others are deleted and its error raised.

    The first file is done on a second thread while this one does the rest: the PNG and WebP encoders release the
    GIL, and with S3 the uploads' round trips overlap (benchmarks/store.py on 2 vCPUs: 0.6-0.75x at 256², 0.85-0.94x
    to S3 at 1024²; none on local files at 1024², where the PNG's own encode is nearly all of it).
    """
    first, *rest = files.items()

    def save(suffix: str, encode: Callable[[], bytes]) -> str:
        return default_storage.save(image_key(job, f"{name}.{suffix}"), ContentFile(encode()))

    beside = _uploads.submit(save, *first)
    keys: dict[str, str] = {}
    error: BaseException | None = None
    try:
        for suffix, encode in rest:
            keys[suffix] = save(suffix, encode)
    except BaseException as raised:  # the other thread's file is waited for, then deleted with these
        error = raised
    try:
        keys[first[0]] = beside.result()
    except BaseException as raised:
        error = error or raised
    if error is not None:
        delete_stored(*keys.values())
        raise error
    return {suffix: keys[suffix] for suffix in files}


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
    claim: Callable[[], bool] | None = None,
    recorded: Callable[[], None] | None = None,
    original: Image.Image | None = None,
) -> GeneratedImage | None:
    """Store one finished image. Idempotent per (job, index): a re-run returns the existing row (found by the
    row's unique index, not by a read before every store: a worker skips the images a job already has).

    `claim()` runs in the row's transaction, after the encode and upload (which hold no lock): False records
    nothing, deletes the uploads and returns None (the worker's job was canceled meanwhile). `recorded()` runs once
    that transaction has written the row and the claim's changes (not when it rolled back: another delivery's row
    came first).
    `original`: the image as the model drew it, when `image` carries the brand kit's logo; kept as
    `original_file` (same metadata), while `file` and the thumbnail show the logo.
    """
    metadata: dict[str, str | int | float] = {
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
        "mode": job.mode,
    }
    if job.inputs:  # the template's inputs as the job resolved them: each value and the words it added
        metadata["inputs"] = json.dumps(job.inputs, ensure_ascii=False, sort_keys=True)
        metadata["template_version"] = job.template.version if job.template is not None else ""
    if job.mode != JobMode.TEXT:  # what it started from, as the API names them (upload or gallery image ids)
        source = job.source
        metadata["source_image"] = str(source.uuid) if source is not None else ""
        if job.mask is not None:
            metadata["mask"] = str(job.mask.uuid)
        metadata["strength"] = job.strength
        if job.outpaint_anchor:
            metadata["outpaint_anchor"] = job.outpaint_anchor
        if job.upscale_factor:
            metadata["upscale_factor"] = job.upscale_factor
        if job.reference_method:  # a scene character's reference: image-to-image from it, or IP-Adapter identity
            metadata["reference_method"] = job.reference_method
        if job.ip_adapter_scale is not None:
            metadata["ip_adapter_scale"] = job.ip_adapter_scale
    metadata.update(brand_metadata(job))
    shown = metadata | {"logo": "composited"} if original is not None else metadata
    name = uuid.uuid4().hex
    files: dict[str, Callable[[], bytes]] = {
        "png": functools.partial(encode_png, image, shown),
        "thumb.webp": functools.partial(encode_thumbnail, image),
    }
    if original is not None:
        files["original.png"] = functools.partial(encode_png, original, metadata)
    keys = upload_all(job, name, files)
    stored = list(keys.values())
    original_key, thumbnail_key, unlogoed_key = keys["png"], keys["thumb.webp"], keys.get("original.png", "")
    try:
        with transaction.atomic():
            if claim is not None and not claim():
                delete_stored(*stored)
                return None
            row = GeneratedImage.objects.create(
                owner_id=job.owner_id,
                job=job,
                index=index,
                image_type=image_type,
                file=original_key,
                thumbnail=thumbnail_key,
                original_file=unlogoed_key,
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
        delete_stored(*stored)
        return GeneratedImage.objects.get(job=job, index=index)
    except Exception:
        delete_stored(*stored)
        raise
    if recorded is not None:
        recorded()
    return row


def brand_metadata(job: GenerationJob) -> dict[str, str | int | float]:
    """What the PNG records of the job's styles (name:weight, in the order they applied) and brand kit."""
    metadata: dict[str, str | int | float] = {}
    if job.styles:
        metadata["styles"] = ", ".join(f"{style['name']}:{style['weight']:g}" for style in job.styles)
    if job.brand_kit_id is not None:
        metadata["brand_kit"] = job.brand_kit.name if job.brand_kit is not None else ""
    return metadata


# --- Source images (a job's input) -------------------------------------------------------------


class SourceInUse(DomainError):
    """409: an unfinished job still reads this source image; delete it once the job is done."""

    status_code = 409
    code = "source_in_use"


def source_key(owner_id: int, name: str) -> str:
    return f"sources/{owner_id}/{name}"


def store_source_image(
    *, owner: User, file: IO[bytes] | bytes, kind: str = SourceKind.IMAGE, field: str = "file"
) -> SourceImage:
    """Check and re-encode an uploaded image (gallery.uploads), store the PNG privately, record it.

    Raises ValidationError on `field` (the upload's own problem) before anything is stored.
    """
    try:
        png = clean_uploaded_image(file)
    except ValidationError as error:
        raise ValidationError({field: error.messages}) from None
    with Image.open(io.BytesIO(png)) as image:
        width, height = image.size
    key = default_storage.save(source_key(owner.pk, f"{uuid.uuid4().hex}.png"), ContentFile(png))
    try:
        return SourceImage.objects.create(
            owner=owner,
            kind=kind,
            file=key,
            width=width,
            height=height,
            sha256=hashlib.sha256(png).hexdigest(),
            byte_size=len(png),
        )
    except Exception:
        delete_stored(key)
        raise


MASK_DATA_URL_PREFIX = "data:image/png;base64,"


def store_mask_data_url(*, owner: User, data_url: str, field: str = "mask") -> SourceImage:
    """A mask the website's painter sends as a PNG data URL, stored like an uploaded mask."""
    if not data_url.startswith(MASK_DATA_URL_PREFIX):
        raise ValidationError({field: _("Send an upload id or a PNG data URL (data:image/png;base64,...).")})
    try:
        png = base64.b64decode(data_url[len(MASK_DATA_URL_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError({field: _("The data URL is not valid base64.")}) from None
    return store_source_image(owner=owner, file=png, kind=SourceKind.MASK, field=field)


def delete_source_image(*, source: SourceImage) -> None:
    """Delete an upload and (once committed) its file; refused while a queued or running job still reads it."""
    unfinished = source.jobs.filter(finished_at__isnull=True).values_list("pk", flat=True).first()
    if unfinished is None:
        unfinished = source.masked_jobs.filter(finished_at__isnull=True).values_list("pk", flat=True).first()
    if unfinished is not None:
        raise SourceInUse(_("Job %(job)s still uses this image; delete it when the job is done.") % {"job": unfinished})
    source.delete()


def open_stored_image(key: str) -> Image.Image:
    """A stored PNG (a source, a mask or a generated image) decoded for the worker's load_image node."""
    with default_storage.open(key, "rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
    return image


# --- Organising ---------------------------------------------------------------------------------


def _check_owner(owner_id: int, *objects: Folder | Tag | GeneratedImage | None) -> None:
    """Services trust no caller: an object of another user's is reported as missing, never touched."""
    for obj in objects:
        if obj is not None and obj.owner_id != owner_id:
            raise ValidationError({type(obj).__name__.lower(): _("No such object.")})


def _save_validated(obj: Folder | Tag) -> None:
    """full_clean (fields, clean()), then save. A unique name is the database's to refuse, said on `name` in the
    reader's language, a lost race the same way (Django's own check of these constraints names the constraint)."""
    obj.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        if isinstance(obj, Folder):
            raise ValidationError({"name": _("A folder with this name already exists.")}) from None
        raise ValidationError({"name": _("A tag with this name already exists.")}) from None


def set_favourite(*, image: GeneratedImage, is_favourite: bool) -> GeneratedImage:
    GeneratedImage.objects.filter(pk=image.pk).update(is_favourite=is_favourite)
    image.is_favourite = is_favourite
    return image


def move_to_folder(*, image: GeneratedImage, folder: Folder | None) -> GeneratedImage:
    _check_owner(image.owner_id, folder)
    GeneratedImage.objects.filter(pk=image.pk).update(folder=folder)
    image.folder = folder
    return image


def _normalise_tag_name(name: str) -> str:
    name = " ".join(str(name).split())
    if not name:
        raise ValidationError({"tags": _("Tag names cannot be blank.")})
    max_length = Tag._meta.get_field("name").max_length
    if max_length is not None and len(name) > max_length:
        raise ValidationError(
            {"tags": _("Tag names are at most %(max_length)s characters.") % {"max_length": max_length}}
        )
    return name


def get_or_create_tags(*, owner: User, names: Iterable[str]) -> list[Tag]:
    """The owner's tags with these names (any case), created when missing, in the order given."""
    wanted: dict[str, str] = {}
    for name in names:
        clean = _normalise_tag_name(name)
        wanted.setdefault(clean.lower(), clean)
    tags = []
    for key, name in wanted.items():
        tag = Tag.objects.filter(owner=owner, name__iexact=key).first()
        if tag is None:
            try:
                with transaction.atomic():
                    tag = Tag.objects.create(owner=owner, name=name)
            except IntegrityError:  # created concurrently
                tag = Tag.objects.get(owner=owner, name__iexact=key)
        tags.append(tag)
    return tags


@transaction.atomic
def set_tags(*, image: GeneratedImage, names: Iterable[str]) -> GeneratedImage:
    """Replace the image's tags with exactly these names."""
    tags = get_or_create_tags(owner=image.owner, names=names)
    image.tags.set(tags)
    return image


@transaction.atomic
def tag_images(*, images: Iterable[GeneratedImage], names: Iterable[str]) -> list[Tag]:
    """Add these tags (made when missing) to each image, keeping the tags it has; all or none."""
    images = list(images)
    owners = {image.owner_id for image in images}
    if len(owners) > 1:
        raise ValidationError({"tags": _("Images of different owners cannot be tagged together.")})
    if not images:
        return []
    tags = get_or_create_tags(owner=images[0].owner, names=names)
    for image in images:
        image.tags.add(*tags)
    return tags


@transaction.atomic
def update_image(
    *,
    image: GeneratedImage,
    is_favourite: bool | None = None,
    folder: Folder | None = None,
    move: bool = False,
    tags: Iterable[str] | None = None,
) -> GeneratedImage:
    """Apply the changes given: favourite flag, folder (when `move`, None = out of any folder), tag names."""
    if is_favourite is not None:
        set_favourite(image=image, is_favourite=is_favourite)
    if move:
        move_to_folder(image=image, folder=folder)
    if tags is not None:
        set_tags(image=image, names=tags)
    return image


def create_folder(*, owner: User, name: str, parent: Folder | None = None) -> Folder:
    _check_owner(owner.pk, parent)
    folder = Folder(owner=owner, name=name, parent=parent)
    _save_validated(folder)
    return folder


def update_folder(
    *, folder: Folder, name: str | None = None, parent: Folder | None = None, move: bool = False
) -> Folder:
    if name is not None:
        folder.name = name
    if move:
        _check_owner(folder.owner_id, parent)
        folder.parent = parent
    _save_validated(folder)
    return folder


def delete_folder(*, folder: Folder) -> None:
    """Subfolders go with it; images never do: they are simply left in no folder."""
    folder.delete()


def create_tag(*, owner: User, name: str) -> Tag:
    tag = Tag(owner=owner, name=_normalise_tag_name(name))
    _save_validated(tag)
    return tag


def rename_tag(*, tag: Tag, name: str) -> Tag:
    tag.name = _normalise_tag_name(name)
    _save_validated(tag)
    return tag


def delete_tag(*, tag: Tag) -> None:
    tag.delete()


# --- Trash --------------------------------------------------------------------------------------


def trash_image(*, image: GeneratedImage) -> GeneratedImage:
    """Soft delete: the image leaves the gallery (and any share) but can be restored until the trash empties."""
    now = timezone.now()
    GeneratedImage.objects.filter(pk=image.pk, deleted_at__isnull=True).update(deleted_at=now)
    image.refresh_from_db(fields=["deleted_at"])
    return image


def restore_image(*, image: GeneratedImage) -> GeneratedImage:
    GeneratedImage.objects.filter(pk=image.pk).update(deleted_at=None)
    image.deleted_at = None
    return image


PURGE_BATCH = 200


def purge_images(*, images: QuerySet[GeneratedImage]) -> int:
    """Delete rows for good, a batch per transaction; stored objects follow each commit (gallery.signals)."""
    purged = 0
    while batch := list(images.order_by("pk").values_list("pk", flat=True)[:PURGE_BATCH]):
        with transaction.atomic():
            _, by_model = GeneratedImage.objects.filter(pk__in=batch).delete()
        purged += by_model.get(GeneratedImage._meta.label, 0)
        if len(batch) < PURGE_BATCH:
            break
    return purged


def empty_trash(*, owner: User | None = None, now: dt.datetime | None = None, everything: bool = False) -> int:
    """Purge trashed images older than GALLERY_TRASH_DAYS (or all of the owner's with `everything`).

    Idempotent: a second run finds nothing left to delete.
    """
    images = GeneratedImage.objects.filter(deleted_at__isnull=False)
    if owner is not None:
        images = images.filter(owner=owner)
    if not everything:
        images = images.filter(deleted_at__lt=trash_cutoff(now))
    purged = purge_images(images=images)
    if purged:
        logger.info("trash emptied", extra={"images": purged, "user_id": getattr(owner, "pk", None)})
    return purged


# --- Share links --------------------------------------------------------------------------------


def share_copies(*, image: GeneratedImage) -> GeneratedImage:
    """Make (once) what a share link serves of `image`: its PNG without the generation metadata and a copy of
    its thumbnail, under random keys (shared/<hex>...) that name neither owner nor job, as the originals' do.

    Called when a share shows the image, so folder shares cover images filed later and links made before
    these copies existed; the owner's own downloads keep the original with its metadata. Concurrent calls
    keep the first copies stored and delete the others.
    """
    if image.shared_file and image.shared_thumbnail:
        return image
    try:
        with default_storage.open(str(image.file.name), "rb") as original:
            picture = strip_png_metadata(original.read())
        with default_storage.open(str(image.thumbnail.name), "rb") as thumbnail:
            preview = thumbnail.read()  # encode_thumbnail writes a bare WebP: no text, EXIF or XMP to strip
    except (OSError, ValueError, BotoCoreError, ClientError):
        # Missing or unreadable in storage: the share shows it as unavailable, and tries again next time.
        logger.warning("cannot make shared copies", extra={"image": str(image.uuid), "key": image.file.name})
        return image
    name = uuid.uuid4().hex
    file_key = default_storage.save(f"shared/{name}.png", ContentFile(picture))
    try:
        thumbnail_key = default_storage.save(f"shared/{name}.thumb.webp", ContentFile(preview))
    except Exception:
        delete_stored(file_key)
        raise
    won = GeneratedImage.objects.filter(pk=image.pk, shared_file="").update(
        shared_file=file_key, shared_thumbnail=thumbnail_key
    )
    if not won:  # another request stored its copies first (or the image is gone)
        delete_stored(file_key, thumbnail_key)
    image.refresh_from_db(fields=["shared_file", "shared_thumbnail"])
    return image


def create_share_link(
    *,
    owner: User,
    image: GeneratedImage | None = None,
    folder: Folder | None = None,
    expires_at: dt.datetime | None = None,
) -> ShareLink:
    if (image is None) == (folder is None):
        raise ValidationError({"non_field_errors": _("Share exactly one image or one folder.")})
    _check_owner(owner.pk, image, folder)
    if image is not None and image.deleted_at is not None:
        raise ValidationError({"image": _("This image is in the trash.")})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": _("The expiry must be in the future.")})
    return ShareLink.objects.create(owner=owner, image=image, folder=folder, expires_at=expires_at)


def revoke_share_link(*, link: ShareLink) -> ShareLink:
    """Idempotent: revoking twice keeps the first revocation time."""
    ShareLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    link.refresh_from_db(fields=["revoked_at"])
    return link


def clean_expired_share_links(*, now: dt.datetime | None = None) -> int:
    """Delete links that can never open again: expired, or revoked. Their tokens already 404."""
    now = now or timezone.now()
    deleted, _ = ShareLink.objects.filter(Q(expires_at__lte=now) | Q(revoked_at__isnull=False)).delete()
    return deleted
