"""Reads for the gallery, and the only place that turns a stored key into a URL (always signed)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.core.files.storage import FileSystemStorage, default_storage, storages
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce, Lower
from django.urls import reverse
from django.utils import timezone

from .models import Folder, GeneratedImage, ShareLink, Tag

SIGNING_SALT = "zimage.gallery.file"


def signed_url(name: str, *, download_as: str | None = None) -> str:
    """S3 gives a presigned URL; local storage a token for our own view. Both expire after SIGNED_URL_EXPIRY.

    `download_as` asks the browser to save the file under that name instead of showing it.
    """
    if isinstance(default_storage, FileSystemStorage):
        token = signing.dumps(name, salt=SIGNING_SALT, compress=True)
        url = reverse("gallery:signed-file", kwargs={"token": token})
        return f"{url}?{urlencode({'download': download_as})}" if download_as else url
    parameters = {"ResponseContentDisposition": f'attachment; filename="{download_as}"'} if download_as else None
    signer = storages["signed_urls"] if "signed_urls" in settings.STORAGES else default_storage
    return signer.url(name, parameters=parameters, expire=settings.SIGNED_URL_EXPIRY)


def key_from_token(token: str) -> str:
    """The storage key a signed token grants; raises signing.BadSignature (or its SignatureExpired)."""
    return signing.loads(token, salt=SIGNING_SALT, max_age=settings.SIGNED_URL_EXPIRY)


def download_name(image: GeneratedImage) -> str:
    return f"zimage-{image.job_id}-{image.index}-{image.uuid.hex[:8]}.png"


def image_urls(image: GeneratedImage) -> dict[str, str]:
    return {"url": signed_url(image.file.name), "thumbnail_url": signed_url(image.thumbnail.name)}


def download_url(image: GeneratedImage) -> str:
    return signed_url(image.file.name, download_as=download_name(image))


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
