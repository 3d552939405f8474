"""Every gallery endpoint that names an object answers 404 for another user's, and changes nothing."""

from __future__ import annotations

import pytest
from django.utils import timezone

from gallery import services
from gallery.models import Folder, GeneratedImage, ShareLink, Tag

from ..factories import GeneratedImageFactory

ENDPOINTS = [
    ("get", "/api/v1/images/{image}", None),
    ("patch", "/api/v1/images/{image}", {"is_favourite": True}),
    ("delete", "/api/v1/images/{image}", None),
    ("get", "/api/v1/images/{image}/download", None),
    ("post", "/api/v1/images/{trashed}/restore", None),
    ("delete", "/api/v1/trash/{trashed}", None),
    ("post", "/api/v1/images/download", {"ids": ["{image}"]}),
    ("get", "/api/v1/folders/{folder}", None),
    ("patch", "/api/v1/folders/{folder}", {"name": "mine now"}),
    ("delete", "/api/v1/folders/{folder}", None),
    ("get", "/api/v1/tags/{tag}", None),
    ("patch", "/api/v1/tags/{tag}", {"name": "mine now"}),
    ("delete", "/api/v1/tags/{tag}", None),
    ("get", "/api/v1/share-links/{link}", None),
    ("delete", "/api/v1/share-links/{link}", None),
]


@pytest.fixture
def theirs(other_user) -> dict[str, str]:
    image = GeneratedImageFactory(owner=other_user, is_favourite=False)
    trashed = GeneratedImageFactory(owner=other_user, deleted_at=timezone.now())
    folder = Folder.objects.create(owner=other_user, name="Theirs")
    tag = Tag.objects.create(owner=other_user, name="theirs")
    link = services.create_share_link(owner=other_user, image=image)
    return {
        "image": str(image.uuid),
        "trashed": str(trashed.uuid),
        "folder": str(folder.pk),
        "tag": str(tag.pk),
        "link": str(link.pk),
    }


def snapshot() -> list:
    return [
        list(GeneratedImage.objects.order_by("pk").values_list("pk", "is_favourite", "deleted_at", "folder_id")),
        list(Folder.objects.order_by("pk").values_list("pk", "name")),
        list(Tag.objects.order_by("pk").values_list("pk", "name")),
        list(ShareLink.objects.order_by("pk").values_list("pk", "revoked_at")),
    ]


def fill(value, ids):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [fill(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: fill(item, ids) for key, item in value.items()}
    return value


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS, ids=[f"{m.upper()} {u}" for m, u, _ in ENDPOINTS])
def test_another_users_object_is_a_404(api_client, theirs, method, url, body):
    before = snapshot()

    response = getattr(api_client, method)(fill(url, theirs), fill(body, theirs), format="json")

    assert response.status_code == 404, response.content
    assert response.json()["error"]["code"] == "not_found"
    assert snapshot() == before


def test_lists_hold_none_of_another_users_rows(api_client, theirs, other_user):
    GeneratedImageFactory(owner=other_user, deleted_at=timezone.now())

    for url in ("/api/v1/images", "/api/v1/trash", "/api/v1/share-links", "/api/v1/folders", "/api/v1/tags"):
        assert api_client.get(url).json()["results"] == [], url


def test_emptying_my_trash_leaves_theirs(api_client, theirs):
    assert api_client.post("/api/v1/trash/empty").json() == {"purged": 0}
    assert GeneratedImage.objects.filter(uuid=theirs["trashed"]).exists()
