"""What a share link hands out: the picture, and nothing of how it was made or whose it is (audit issue 17, item 6);
file links whose download name is the server's, not the link's (item 7)."""

from __future__ import annotations

import io
import re
from urllib.parse import urlparse

import pytest
from django.test import Client
from PIL import Image
from rest_framework.test import APIClient

from gallery import selectors, services
from gallery.models import GeneratedImage

from ..factories import stored_image
from .test_shares import fetch

SECRET_PROMPT = "unreleased autumn campaign, teal trench coat"


def shared_urls(token: str) -> dict[str, str]:
    return APIClient().get(f"/api/v1/shares/{token}").json()["results"][0]["urls"]


def stored_key(storage, url: str) -> str:
    """The storage key behind a signed URL: the token's (local) or the presigned URL's path (S3)."""
    if storage.kind == "s3":
        return urlparse(url).path.split(f"/{storage.bucket}/", 1)[1]
    return selectors.file_from_token(url.rsplit("/", 1)[1])[0]


def test_a_shared_image_carries_no_generation_metadata(user, storage):
    image = stored_image(user, prompt=SECRET_PROMPT)
    link = services.create_share_link(owner=user, image=image)

    for name in ("url", "download"):
        status, content = fetch(storage, shared_urls(link.token)[name])

        assert status == 200
        picture = Image.open(io.BytesIO(content))
        assert picture.size == (image.width, image.height)
        assert picture.text == {}
        assert SECRET_PROMPT.encode() not in content and b"blurry" not in content


def test_the_owners_own_download_keeps_the_metadata(user, storage, api_client):
    image = stored_image(user, prompt=SECRET_PROMPT)
    services.create_share_link(owner=user, image=image)

    url = api_client.get(f"/api/v1/images/{image.uuid}").json()["urls"]["download"]
    status, content = fetch(storage, url)

    assert status == 200
    assert Image.open(io.BytesIO(content)).text["prompt"] == SECRET_PROMPT


def test_shared_links_name_neither_the_owner_nor_the_job(user, storage):
    image = stored_image(user)
    link = services.create_share_link(owner=user, image=image)

    keys = [stored_key(storage, url) for url in shared_urls(link.token).values()]

    assert image.file.name.startswith(f"images/{user.pk}/{image.job_id}/")  # what the links used to name
    assert all(re.fullmatch(r"shared/[0-9a-f]{32}\.(png|thumb\.webp)", key) for key in keys), keys


def test_the_share_page_links_only_the_copies(user, storage):
    image = stored_image(user, prompt=SECRET_PROMPT)
    link = services.create_share_link(owner=user, image=image)

    page = Client().get(f"/s/{link.token}").content.decode()
    image.refresh_from_db()

    for url in selectors.shared_image_urls(image).values():
        assert url.replace("&", "&amp;") in page
    assert selectors.signed_url(image.file.name).split("?")[0] not in page


def test_shared_copies_are_made_once_and_deleted_with_the_image(user, storage, django_capture_on_commit_callbacks):
    image = stored_image(user)
    link = services.create_share_link(owner=user, image=image)
    shared_urls(link.token)
    image.refresh_from_db()
    copies = {image.shared_file.name, image.shared_thumbnail.name}
    assert copies <= storage.keys()

    shared_urls(link.token)  # a second view reuses them
    image.refresh_from_db()
    assert {image.shared_file.name, image.shared_thumbnail.name} == copies

    with django_capture_on_commit_callbacks(execute=True):
        services.purge_images(images=GeneratedImage.objects.filter(pk=image.pk))

    assert not copies & storage.keys()


def test_stripping_keeps_the_picture_exactly(user, local_storage):
    image = stored_image(user, color=(12, 200, 99))
    original = image.file.read()

    stripped = services.strip_png_metadata(original)

    assert Image.open(io.BytesIO(stripped)).tobytes() == Image.open(io.BytesIO(original)).tobytes()
    assert Image.open(io.BytesIO(stripped)).text == {}


def test_stripping_refuses_what_is_not_a_png():
    with pytest.raises(ValueError):
        services.strip_png_metadata(b"GIF89a...")


class TestDownloadNames:
    def test_a_link_cannot_choose_the_download_name(self, user, local_storage):
        image = stored_image(user)

        response = Client().get(selectors.signed_url(image.file.name) + "?download=invoice.html")

        assert response.status_code == 200
        assert "invoice.html" not in response.get("Content-Disposition", "")
        assert not response.get("Content-Disposition", "").startswith("attachment")

    def test_the_signed_download_name_is_the_servers(self, user, local_storage):
        image = stored_image(user)

        response = Client().get(selectors.download_url(image) + "?download=invoice.html")

        assert response["Content-Disposition"] == f'attachment; filename="{selectors.download_name(image)}"'

    def test_a_signed_name_keeps_the_files_own_extension(self, user, local_storage):
        image = stored_image(user)

        response = Client().get(selectors.signed_url(image.file.name, download_as="report.html"))

        assert response["Content-Disposition"] == 'attachment; filename="report.png"'
