"""The gallery's bulk bar (#22): one action on a multi-selection (move to folder, add tags, favourite, trash,
download a zip), on the owner's own images only, CSRF-protected, and a refused action changes nothing."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from gallery.models import Tag
from gallery.services import create_folder, set_tags

from ..factories import stored_image

pytestmark = pytest.mark.django_db


def signed_in(user, **options) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


@pytest.fixture
def images(user):
    return [stored_image(user, prompt=f"picture {n}") for n in range(3)]


def bulk(client: Client, images, **body):
    return client.post(reverse("gallery:bulk"), {"ids": [str(image.uuid) for image in images], **body})


def tag_names(image) -> list[str]:
    return sorted(image.tags.values_list("name", flat=True))


def test_add_tags_adds_each_tag_to_every_selected_image_and_keeps_their_own(user, images):
    set_tags(image=images[0], names=["old"])
    response = bulk(signed_in(user), images[:2], action="tag", tags="summer, Launch ,summer")
    assert response.status_code == 302
    assert tag_names(images[0]) == ["Launch", "old", "summer"]
    assert tag_names(images[1]) == ["Launch", "summer"]
    assert tag_names(images[2]) == []


def test_add_tags_without_a_name_says_so_and_tags_nothing(user, images):
    client = signed_in(user)
    response = bulk(client, images, action="tag", tags=" , ")
    assert response.status_code == 302
    texts = [str(message) for message in get_messages(response.wsgi_request)]
    assert texts == ["Tags: Name at least one tag to add."]
    assert all(tag_names(image) == [] for image in images)


def test_a_tag_name_too_long_is_refused_and_nothing_is_tagged(user, images):
    response = bulk(signed_in(user), images, action="tag", tags="fine, " + "x" * 80)
    texts = [str(message) for message in get_messages(response.wsgi_request)]
    assert len(texts) == 1 and texts[0].startswith("Tags: ")
    assert all(tag_names(image) == [] for image in images)
    assert not Tag.objects.filter(owner=user).exists()


def test_move_favourite_and_trash_apply_to_the_selection(user, images):
    client = signed_in(user)
    folder = create_folder(owner=user, name="Launch")
    bulk(client, images[:2], action="move", folder=str(folder.pk))
    bulk(client, images[1:], action="favourite")
    for image in images:
        image.refresh_from_db()
    assert [image.folder_id for image in images] == [folder.pk, folder.pk, None]
    assert [image.is_favourite for image in images] == [False, True, True]
    bulk(client, images[:1], action="trash")
    images[0].refresh_from_db()
    assert images[0].deleted_at is not None


def test_download_zips_the_selected_originals(user, images):
    response = bulk(signed_in(user), images[:2], action="download")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert len(archive.namelist()) == 2


def test_another_users_images_are_not_tagged(other_user, images):
    response = bulk(signed_in(other_user), images, action="tag", tags="mine")
    assert response.status_code == 302
    assert all(tag_names(image) == [] for image in images)
    assert not Tag.objects.filter(owner=other_user).exists()


def test_the_bulk_bar_needs_the_csrf_token(user, images):
    response = bulk(signed_in(user, enforce_csrf_checks=True), images, action="tag", tags="x")
    assert response.status_code == 403
    assert all(tag_names(image) == [] for image in images)


def test_the_grid_offers_the_tag_action_with_its_field(user, images):
    page = signed_in(user).get(reverse("gallery:list")).content.decode()
    assert '<option value="tag">' in page
    assert 'name="tags"' in page and 'for="bulk-tags"' in page
