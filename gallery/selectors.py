"""Reads for the gallery, and the only place that turns a stored key into a URL (always signed)."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.core.files.storage import FileSystemStorage, default_storage
from django.db.models import QuerySet
from django.urls import reverse

from .models import GeneratedImage

SIGNING_SALT = "zimage.gallery.file"


def signed_url(name: str) -> str:
    """S3 gives a presigned URL; local storage a token for our own view. Both expire."""
    if isinstance(default_storage, FileSystemStorage):
        token = signing.dumps(name, salt=SIGNING_SALT, compress=True)
        return reverse("gallery:signed-file", kwargs={"token": token})
    return default_storage.url(name)


def key_from_token(token: str) -> str:
    """The storage key a signed token grants; raises signing.BadSignature (or its SignatureExpired)."""
    return signing.loads(token, salt=SIGNING_SALT, max_age=settings.SIGNED_URL_EXPIRY)


def image_urls(image: GeneratedImage) -> dict[str, str]:
    return {"url": signed_url(image.file.name), "thumbnail_url": signed_url(image.thumbnail.name)}


def images_for(user) -> QuerySet[GeneratedImage]:
    return GeneratedImage.objects.filter(owner=user)
