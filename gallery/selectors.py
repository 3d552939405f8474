"""Reads for the gallery, and the only place that turns a stored key into a URL (always signed)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.core import signing
from django.core.files.storage import FileSystemStorage, default_storage, storages
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce, Lower
from django.urls import reverse
from django.utils import timezone

from .models import Folder, GeneratedImage, ShareLink, SourceImage, Tag

SIGNING_SALT = "zimage.gallery.file"


def signed_url(name: str, *, download_as: str | None = None) -> str:
    """S3 gives a presigned URL; local storage a token for our own view. Both expire after SIGNED_URL_EXPIRY.

    `download_as` asks the browser to save the file under that name instead of showing it. It is signed with
    the key (into the token, or S3's signature), never read from the link, so no link can rename a file.
    """
    if isinstance(default_storage, FileSystemStorage):
        payload = {"key": name, "download": download_as} if download_as else name
        token = signing.dumps(payload, salt=SIGNING_SALT, compress=True)
        return reverse("gallery:signed-file", kwargs={"token": token})
    parameters = {"ResponseContentDisposition": f'attachment; filename="{download_as}"'} if download_as else None
    signer = storages["signed_urls"] if "signed_urls" in settings.STORAGES else default_storage
    return signer.url(name, parameters=parameters, expire=settings.SIGNED_URL_EXPIRY)


def file_from_token(token: str) -> tuple[str, str | None]:
    """The storage key a signed token grants and the download name signed with it (None: shown inline).

    Raises signing.BadSignature (or its SignatureExpired).
    """
    payload = signing.loads(token, salt=SIGNING_SALT, max_age=settings.SIGNED_URL_EXPIRY)
    if isinstance(payload, dict):
        return str(payload["key"]), (str(payload["download"]) if payload.get("download") else None)
    return str(payload), None


def download_name(image: GeneratedImage) -> str:
    return f"zimage-{image.job_id}-{image.index}-{image.uuid.hex[:8]}.png"


def shared_download_name(image: GeneratedImage) -> str:
    """What a shared image saves as: nothing about its job, only a piece of its own random id."""
    return f"zimage-{image.uuid.hex[:12]}.png"


def image_urls(image: GeneratedImage) -> dict[str, str]:
    return {"url": signed_url(image.file.name), "thumbnail_url": signed_url(image.thumbnail.name)}


def download_url(image: GeneratedImage) -> str:
    """The image as the gallery shows it: with the brand kit's logo when one was composited."""
    return signed_url(image.file.name, download_as=download_name(image))


def original_download_url(image: GeneratedImage) -> str:
    """The image as the model drew it, before the logo; empty when no logo was put on it (`file` is the original)."""
    if not image.original_file:
        return ""
    return signed_url(image.original_file.name, download_as=download_name(image).replace(".png", "-original.png"))


def shared_image_urls(image: GeneratedImage) -> dict[str, str]:
    """A shared image's URLs: its metadata-free copies (services.share_copies made them), never the originals.

    Empty while there are no copies (the stored image could not be read).
    """
    if not (image.shared_file and image.shared_thumbnail):
        return {"url": "", "thumbnail_url": "", "download": ""}
    return {
        "url": signed_url(image.shared_file.name),
        "thumbnail_url": signed_url(image.shared_thumbnail.name),
        "download": signed_url(image.shared_file.name, download_as=shared_download_name(image)),
    }


def images_for(user) -> QuerySet[GeneratedImage]:
    """Every image of the user's, trashed ones included."""
    return GeneratedImage.objects.filter(owner=user)


def live_images_for(user) -> QuerySet[GeneratedImage]:
    return (
        images_for(user)
        .filter(deleted_at__isnull=True)
        .select_related("template", "folder")
        .prefetch_related("tags")
        .order_by("-created_at", "-id")
    )


def trashed_images_for(user) -> QuerySet[GeneratedImage]:
    return (
        images_for(user)
        .filter(deleted_at__isnull=False)
        .select_related("template", "folder")
        .prefetch_related("tags")
        .order_by("-deleted_at", "-id")
    )


def folders_for(user) -> QuerySet[Folder]:
    """As a tree reads: each top folder by name, its subfolders right after it."""
    return Folder.objects.filter(owner=user).order_by(
        Lower(Coalesce("parent__name", "name")),
        Coalesce("parent_id", "id"),
        F("parent_id").asc(nulls_first=True),
        Lower("name"),
        "id",
    )


def tags_for(user) -> QuerySet[Tag]:
    return Tag.objects.filter(owner=user).order_by("name", "id")


def share_links_for(user) -> QuerySet[ShareLink]:
    return ShareLink.objects.filter(owner=user).select_related("image", "folder")


def active_share_link(token: str) -> ShareLink | None:
    """The link behind a public token, or None when it is unknown, revoked, expired or its target is trashed."""
    link = (
        ShareLink.objects.active()
        .select_related("image", "folder")
        .filter(token=token)
        .filter(Q(image__isnull=True) | Q(image__deleted_at__isnull=True))
        .first()
    )
    return link


def shared_images(link: ShareLink) -> QuerySet[GeneratedImage]:
    """What a share link shows: its image, or the live images of its folder and the folder's subfolders."""
    images = GeneratedImage.objects.filter(owner_id=link.owner_id, deleted_at__isnull=True)
    if link.image_id is not None:
        return images.filter(pk=link.image_id)
    return images.filter(Q(folder_id=link.folder_id) | Q(folder__parent_id=link.folder_id)).order_by(
        "-created_at", "-id"
    )


def images_by_uuid(user, uuids: Iterable) -> list[GeneratedImage]:
    """The user's live images with these ids, in the order asked; missing ones are simply absent."""
    wanted = list(dict.fromkeys(uuids))
    found = {image.uuid: image for image in images_for(user).filter(deleted_at__isnull=True, uuid__in=wanted)}
    return [found[key] for key in wanted if key in found]


def trash_cutoff(now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) - dt.timedelta(days=settings.GALLERY_TRASH_DAYS)


def source_images_for(user) -> QuerySet[SourceImage]:
    return SourceImage.objects.filter(owner=user)


def source_image_urls(source: SourceImage) -> dict[str, str]:
    return {"url": signed_url(source.file.name)}


def find_source(user, uuid) -> SourceImage | GeneratedImage | None:
    """A job's source by id: one of the user's uploads, else one of their gallery images (not in the trash)."""
    return source_images_for(user).filter(uuid=uuid).first() or live_images_for(user).filter(uuid=uuid).first()
