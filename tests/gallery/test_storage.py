"""Stored images are private: reachable only through signed, expiring URLs, and gone from storage with their rows.

Each test marked with the `storage` fixture runs on local files and on a real S3 HTTP server (moto, own process).
"""

from __future__ import annotations

import io
import threading
import time
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from PIL import Image

from gallery import selectors, services
from gallery.models import GeneratedImage

from ..factories import GenerationJobFactory, stored_image
from .conftest import s3_storage_settings


def fetch(storage, url: str) -> tuple[int, bytes, dict]:
    """GET a signed URL the way a browser would: over HTTP from S3, or through our view for local files."""
    if storage.kind == "s3":
        response = httpx.get(url, timeout=10)
        return response.status_code, response.content, dict(response.headers)
    response = Client().get(url)
    body = b"".join(response.streaming_content) if response.status_code == 200 else response.content
    return response.status_code, body, dict(response.headers)


def test_a_stored_image_downloads_through_its_signed_url_with_its_metadata(storage, user):
    image = stored_image(user, prompt="red sneakers on a plinth")

    assert image.file.name.startswith(f"images/{user.pk}/{image.job_id}/")
    assert storage.keys() == {image.file.name, image.thumbnail.name}
    status, body, _ = fetch(storage, selectors.image_urls(image)["url"])
    assert status == 200
    png = Image.open(io.BytesIO(body))
    assert png.format == "PNG"
    assert png.text["prompt"] == "red sneakers on a plinth"
    status, body, _ = fetch(storage, selectors.image_urls(image)["thumbnail_url"])
    assert status == 200
    assert Image.open(io.BytesIO(body)).format == "WEBP"


def test_the_download_url_saves_the_original_under_a_readable_name(storage, user):
    image = stored_image(user)

    status, body, headers = fetch(storage, selectors.download_url(image))

    assert status == 200
    assert body.startswith(b"\x89PNG")
    disposition = {key.lower(): value for key, value in headers.items()}["content-disposition"]
    assert "attachment" in disposition
    assert selectors.download_name(image) in disposition


def test_the_raw_object_url_without_a_signature_is_refused_by_s3(s3_storage, user):
    image = stored_image(user)
    signed = selectors.image_urls(image)["url"]
    assert "X-Amz-Signature=" in signed

    unsigned = f"{s3_storage.server.endpoint}/{s3_storage.bucket}/{image.file.name}"
    assert httpx.get(unsigned, timeout=10).status_code == 403
    assert httpx.get(signed, timeout=10).status_code == 200


def test_signed_urls_point_at_the_public_endpoint_and_work_through_a_host_keeping_proxy(s3_storage, settings, user):
    image = stored_image(user)
    public = "http://localhost:8123"  # a host moto reads path-style, as MinIO reads every host
    settings.STORAGES = {
        **settings.STORAGES,
        "signed_urls": s3_storage_settings(public, s3_storage.bucket),
    }
    url = selectors.image_urls(image)["url"]
    assert url.startswith(f"{public}/{s3_storage.bucket}/{image.file.name}?")
    # What the proxy does (deploy/nginx.conf): the same path and query to the S3 server, with the Host the URL
    # was signed for (MinIO checks it; moto does not, so here this shows the object is found as addressed).
    relayed = httpx.get(
        s3_storage.server.endpoint + url.removeprefix(public), headers={"Host": "localhost:8123"}, timeout=10
    )
    assert relayed.status_code == 200 and relayed.content.startswith(b"\x89PNG")


def test_local_media_is_not_served_as_a_public_folder(local_storage, user):
    image = stored_image(user)
    assert (local_storage.root / image.file.name).exists()

    assert Client().get(f"/media/{image.file.name}").status_code == 404


def test_presigned_urls_expire_after_signed_url_expiry(s3_storage, settings, user):
    """Expiry itself is enforced by S3 (MinIO/AWS; moto does not check it): we sign for SIGNED_URL_EXPIRY."""
    settings.SIGNED_URL_EXPIRY = 600
    image = stored_image(user)

    query = parse_qs(urlsplit(selectors.image_urls(image)["url"]).query)

    assert query["X-Amz-Expires"] == ["600"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]


def test_an_expired_local_signed_url_is_refused(local_storage, settings, user):
    image = stored_image(user)
    issued = time.time() - settings.SIGNED_URL_EXPIRY - 5
    with mock.patch("time.time", return_value=issued):
        stale = selectors.image_urls(image)["url"]
    fresh = selectors.image_urls(image)["url"]

    assert Client().get(stale).status_code == 404
    assert Client().get(fresh).status_code == 200


def test_a_tampered_local_token_is_refused(local_storage, user):
    image = stored_image(user)
    url = selectors.image_urls(image)["url"]

    assert Client().get(url[:-2] + ("AA" if not url.endswith("AA") else "BB")).status_code == 404


def test_deleting_a_job_removes_its_stored_objects(storage, user, django_capture_on_commit_callbacks):
    job = GenerationJobFactory(owner=user, succeeded=True, num_images=2)
    stored_image(user, job=job, index=0)
    stored_image(user, job=job, index=1)
    kept = stored_image(user)
    assert len(storage.keys()) == 6

    with django_capture_on_commit_callbacks(execute=True):
        job.delete()

    assert not GeneratedImage.objects.filter(job_id=job.pk).exists()
    assert storage.keys() == {kept.file.name, kept.thumbnail.name}


def test_purging_images_leaves_no_orphans(storage, user, django_capture_on_commit_callbacks):
    images = [stored_image(user, prompt=f"image {n}") for n in range(3)]
    for image in images:
        services.trash_image(image=image)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.empty_trash(owner=user, everything=True) == 3

    assert storage.keys() == set()


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_delete_keeps_the_stored_objects(storage, user):
    image = stored_image(user)

    with pytest.raises(RuntimeError), transaction.atomic():
        GeneratedImage.objects.filter(pk=image.pk).delete()
        raise RuntimeError("abort")

    assert GeneratedImage.objects.filter(pk=image.pk).exists()
    assert storage.keys() == {image.file.name, image.thumbnail.name}


def test_storing_the_same_index_twice_keeps_one_copy(storage, user):
    job = GenerationJobFactory(owner=user, succeeded=True)
    first = stored_image(user, job=job, index=0)
    again = stored_image(user, job=job, index=0)

    assert again.pk == first.pk
    assert storage.keys() == {first.file.name, first.thumbnail.name}


def test_an_images_files_are_encoded_and_uploaded_at_the_same_time(storage, user):
    """Each encoder waits for the other to have started: one after the other, the first would never see it."""
    job = GenerationJobFactory(owner=user)
    started = {"png": threading.Event(), "thumb.webp": threading.Event()}

    def encoder(suffix: str, other: str):
        def encode() -> bytes:
            started[suffix].set()
            assert started[other].wait(5), f"{suffix} was encoded alone"
            return suffix.encode()

        return encode

    keys = services.upload_all(
        job, "name", {"png": encoder("png", "thumb.webp"), "thumb.webp": encoder("thumb.webp", "png")}
    )

    assert {suffix: default_storage.open(key).read() for suffix, key in keys.items()} == {
        "png": b"png",
        "thumb.webp": b"thumb.webp",
    }
    assert storage.keys() == set(keys.values())


@pytest.mark.parametrize("failing", ["png", "thumb.webp", "original.png"])
def test_an_images_files_are_stored_all_or_none(storage, user, failing):
    job = GenerationJobFactory(owner=user)

    def broken() -> bytes:
        raise OSError("the encoder failed")

    files = {"png": lambda: b"png", "thumb.webp": lambda: b"webp", "original.png": lambda: b"original"}
    files[failing] = broken

    with pytest.raises(OSError, match="the encoder failed"):
        services.upload_all(job, "name", files)
    assert storage.keys() == set()


def test_ensure_bucket_creates_the_missing_bucket_once(s3_server, settings):
    from .conftest import s3_storage_settings

    bucket = "zimage-images-ensure"
    settings.STORAGES = {**settings.STORAGES, "default": s3_storage_settings(s3_server.endpoint, bucket)}
    client = s3_server.client()
    assert bucket not in {b["Name"] for b in client.list_buckets()["Buckets"]}

    first, second = io.StringIO(), io.StringIO()
    call_command("ensure_bucket", stdout=first)
    call_command("ensure_bucket", stdout=second)

    assert "Created bucket zimage-images-ensure" in first.getvalue()
    assert "exists" in second.getvalue()
    assert bucket in {b["Name"] for b in client.list_buckets()["Buckets"]}
    assert client.get_bucket_acl(Bucket=bucket)["Grants"][0]["Permission"] == "FULL_CONTROL"
    assert len(client.get_bucket_acl(Bucket=bucket)["Grants"]) == 1  # owner only: private


def test_ensure_bucket_is_a_no_op_for_local_storage(local_storage):
    out = io.StringIO()
    call_command("ensure_bucket", stdout=out)
    assert "Local file storage" in out.getvalue()
