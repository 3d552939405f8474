"""Share links: public while active, 404 once revoked, expired or their image is trashed; cleaned up by beat."""

from __future__ import annotations

import datetime as dt
import html
import io
import re

import httpx
import pytest
from django.test import Client
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from gallery import services, tasks
from gallery.models import Folder, ShareLink

from ..factories import GeneratedImageFactory, stored_image


def public_json(token: str):
    return APIClient().get(f"/api/v1/shares/{token}")


def public_page(token: str):
    return Client().get(f"/s/{token}")


def test_share_link_lifecycle(api_client, user, storage):
    image = stored_image(user, prompt="private prompt")

    created = api_client.post("/api/v1/share-links", {"image": str(image.uuid)}, format="json")

    assert created.status_code == 201, created.content
    link = created.json()
    assert len(link["token"]) >= 43
    assert link["url"] == f"http://testserver/s/{link['token']}"
    assert link["is_active"] is True

    shared = public_json(link["token"])
    assert shared.status_code == 200
    body = shared.json()
    assert body["type"] == "image"
    assert [item["id"] for item in body["results"]] == [str(image.uuid)]
    assert "prompt" not in body["results"][0]
    status, content = fetch(storage, body["results"][0]["urls"]["url"])
    assert status == 200
    assert Image.open(io.BytesIO(content)).size == (image.width, image.height)

    page = public_page(link["token"])
    assert page.status_code == 200
    assert "default-src 'none'" in page["Content-Security-Policy"]
    assert page["Referrer-Policy"] == "no-referrer"
    thumbnail_src = html.unescape(re.search(r'<img src="([^"]+)"', page.content.decode()).group(1))
    status, content = fetch(storage, thumbnail_src)
    assert status == 200
    assert Image.open(io.BytesIO(content)).format == "WEBP"

    assert api_client.delete(f"/api/v1/share-links/{link['id']}").status_code == 204
    assert public_json(link["token"]).status_code == 404
    assert public_page(link["token"]).status_code == 404
    assert api_client.get(f"/api/v1/share-links/{link['id']}").json()["is_active"] is False


def fetch(storage, url: str) -> tuple[int, bytes]:
    if storage.kind == "s3":
        response = httpx.get(url, timeout=10)
        return response.status_code, response.content
    response = Client().get(url)
    return response.status_code, b"".join(response.streaming_content) if response.status_code == 200 else b""


def test_an_expired_link_is_a_404(user):
    link = services.create_share_link(
        owner=user, image=GeneratedImageFactory(owner=user), expires_at=timezone.now() + dt.timedelta(hours=1)
    )
    assert public_json(link.token).status_code == 200

    ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    assert public_json(link.token).status_code == 404
    assert public_page(link.token).status_code == 404


def test_a_trashed_image_is_no_longer_shared(user):
    image = GeneratedImageFactory(owner=user)
    link = services.create_share_link(owner=user, image=image)

    services.trash_image(image=image)

    assert public_json(link.token).status_code == 404
    services.restore_image(image=image)
    assert public_json(link.token).status_code == 200


@pytest.mark.parametrize("token", ["nope", "x" * 43, "../../etc/passwd"])
def test_unknown_tokens_are_a_404(token, db):
    assert public_json(token).status_code == 404
    assert public_page(token).status_code == 404


def test_a_folder_share_shows_its_live_images_and_its_subfolders(user, other_user):
    folder = Folder.objects.create(owner=user, name="Lookbook <script>alert(1)</script>")
    sub = Folder.objects.create(owner=user, name="Details", parent=folder)
    inside, nested = GeneratedImageFactory(owner=user, folder=folder), GeneratedImageFactory(owner=user, folder=sub)
    GeneratedImageFactory(owner=user, folder=folder, deleted_at=timezone.now())
    GeneratedImageFactory(owner=user)  # not in the folder
    link = services.create_share_link(owner=user, folder=folder)

    body = public_json(link.token).json()

    assert body["type"] == "folder"
    assert body["name"] == folder.name
    assert {item["id"] for item in body["results"]} == {str(inside.uuid), str(nested.uuid)}
    page = public_page(link.token).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


def test_links_are_created_only_for_the_users_own_live_objects(api_client, user, other_user):
    theirs = GeneratedImageFactory(owner=other_user)
    their_folder = Folder.objects.create(owner=other_user, name="Theirs")
    trashed = GeneratedImageFactory(owner=user, deleted_at=timezone.now())

    for body in (
        {"image": str(theirs.uuid)},
        {"folder": their_folder.pk},
        {"image": str(trashed.uuid)},
        {"image": "not-a-uuid"},
    ):
        response = api_client.post("/api/v1/share-links", body, format="json")
        assert response.status_code == 400, body
        assert set(response.json()["error"]["fields"]) == set(body)
    assert not ShareLink.objects.exists()


@pytest.mark.parametrize(
    "body",
    [{}, "both", {"expires_at": "2001-01-01T00:00:00Z", "image": None}],
    ids=["neither", "both", "past-expiry"],
)
def test_a_link_needs_one_target_and_a_future_expiry(api_client, user, body):
    image = GeneratedImageFactory(owner=user)
    folder = Folder.objects.create(owner=user, name="F")
    if body == "both":
        body = {"image": str(image.uuid), "folder": folder.pk}
    elif "image" in body:
        body = {**body, "image": str(image.uuid)}

    response = api_client.post("/api/v1/share-links", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_tokens_are_random_and_unguessable(user):
    image = GeneratedImageFactory(owner=user)
    tokens = {services.create_share_link(owner=user, image=image).token for _ in range(20)}
    assert len(tokens) == 20
    assert all(len(token) >= 43 for token in tokens)


def test_the_cleanup_task_deletes_expired_and_revoked_links_only(user):
    image = GeneratedImageFactory(owner=user)
    now = timezone.now()
    active = services.create_share_link(owner=user, image=image)
    later = services.create_share_link(owner=user, image=image, expires_at=now + dt.timedelta(days=1))
    expired = services.create_share_link(owner=user, image=image, expires_at=now + dt.timedelta(days=1))
    ShareLink.objects.filter(pk=expired.pk).update(expires_at=now - dt.timedelta(minutes=1))
    revoked = services.revoke_share_link(link=services.create_share_link(owner=user, image=image))

    assert tasks.clean_expired_share_links() == 2
    assert tasks.clean_expired_share_links() == 0
    assert set(ShareLink.objects.values_list("pk", flat=True)) == {active.pk, later.pk}
    assert revoked.revoked_at is not None
