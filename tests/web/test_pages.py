"""Every page renders for its owner; anonymous visitors are sent to log in; another user's objects are a 404."""

from __future__ import annotations

import json

import pytest
import redis
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.services import create_api_key
from core import context_processors
from gallery.services import create_folder, create_share_link

from ..factories import GenerationJobFactory, stored_image

pytestmark = pytest.mark.django_db

PUBLIC_PAGES = [
    "core:landing",
    "accounts:login",
    "accounts:signup",
    "accounts:password_reset",
]
PRIVATE_PAGES = [
    "generation:dashboard",
    "generation:generate",
    "generation:jobs",
    "templates_app:list",
    "gallery:list",
    "gallery:trash",
    "scenes:list",
    "brands:styles",
    "brands:kits",
    "brands:kit-create",
    "accounts:profile",
]


@pytest.mark.parametrize("name", PUBLIC_PAGES)
def test_public_pages_render_for_anonymous_visitors(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert b'<a class="skip-link" href="#main">' in response.content


@pytest.mark.parametrize("name", PRIVATE_PAGES)
def test_private_pages_send_anonymous_visitors_to_log_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


@pytest.mark.parametrize("name", PRIVATE_PAGES)
def test_private_pages_render_empty_for_a_new_user(owner_client, name):
    response = owner_client.get(reverse(name))
    assert response.status_code == 200


def test_owner_sees_every_page_about_their_objects(owner_client, user, template, story):
    job = GenerationJobFactory(owner=user, template=template, running=True, progress_step=2)
    image = stored_image(user)
    folder = create_folder(owner=user, name="Campaign")
    chapter = story.chapters.get()
    pages = [
        reverse("generation:job", args=[job.pk]),
        reverse("generation:jobs") + "?status=running",
        reverse("generation:generate") + f"?from_job={job.pk}",
        reverse("generation:generate") + f"?from_image={image.uuid}",
        reverse("generation:generate") + "?template=lookbook",
        reverse("gallery:image", args=[image.uuid]),
        reverse("gallery:list") + f"?folder={folder.pk}",
        reverse("gallery:list") + "?favourite=1&tag=x&q=linen&path=fashion",
        reverse("templates_app:detail", args=[template.slug]),
        reverse("templates_app:list") + "?path=fashion",
        reverse("scenes:story", args=[story.pk]),
        reverse("scenes:chapter", args=[chapter.pk]),
    ]
    for url in pages:
        assert owner_client.get(url).status_code == 200, url


def test_dashboard_shows_balance_running_jobs_and_recent_images(owner_client, user):
    GenerationJobFactory(owner=user, prompt="still drawing", running=True)
    stored_image(user, prompt="a finished picture")
    body = owner_client.get(reverse("generation:dashboard")).content.decode()
    assert f"{user.credit_balance:,}" in body  # grouped for the reader's locale (intcomma)
    assert "still drawing" in body
    assert "a finished picture" in body


def test_another_users_objects_are_not_found(other_client, user, template, story):
    job = GenerationJobFactory(owner=user, succeeded=True)
    image = stored_image(user)
    folder = create_folder(owner=user, name="Private")
    link = create_share_link(owner=user, image=image)
    key, _ = create_api_key(user=user, name="ci")
    chapter = story.chapters.get()
    scene = chapter.scenes.get()
    character = story.characters.get()
    gets = [
        reverse("generation:job", args=[job.pk]),
        reverse("generation:generate") + f"?from_job={job.pk}",
        reverse("generation:generate") + f"?from_image={image.uuid}",
        reverse("generation:generate") + "?from_image=not-a-uuid",
        reverse("gallery:image", args=[image.uuid]),
        reverse("gallery:list") + f"?folder={folder.pk}",
        reverse("scenes:story", args=[story.pk]),
        reverse("scenes:chapter", args=[chapter.pk]),
    ]
    posts = [
        (reverse("generation:job-cancel", args=[job.pk]), {}),
        (reverse("generation:job-retry", args=[job.pk]), {}),
        (reverse("gallery:image-favourite", args=[image.uuid]), {"is_favourite": "1"}),
        (reverse("gallery:image-organise", args=[image.uuid]), {"tags": "x"}),
        (reverse("gallery:image-trash", args=[image.uuid]), {}),
        (reverse("gallery:image-share", args=[image.uuid]), {}),
        (reverse("gallery:trash-restore", args=[image.uuid]), {}),
        (reverse("gallery:folder-delete", args=[folder.pk]), {}),
        (reverse("gallery:folder-share", args=[folder.pk]), {}),
        (reverse("gallery:share-link-revoke", args=[link.pk]), {}),
        (reverse("accounts:key-revoke", args=[key.pk]), {}),
        (reverse("scenes:chapter-create", args=[story.pk]), {"number": 2}),
        (reverse("scenes:character-create", args=[story.pk]), {"name": "Intruder"}),
        (reverse("scenes:character-generate", args=[character.pk]), {}),
        (reverse("scenes:scene-create", args=[chapter.pk]), {"scene_number": 2, "description": "x"}),
        (reverse("scenes:chapter-generate", args=[chapter.pk]), {}),
        (reverse("scenes:scene-generate", args=[scene.pk]), {}),
        (reverse("scenes:scene-choose", args=[scene.pk]), {"image": str(image.uuid)}),
    ]
    for url in gets:
        assert other_client.get(url).status_code == 404, url
    for url, data in posts:
        assert other_client.post(url, data).status_code == 404, url
    job.refresh_from_db()
    image.refresh_from_db()
    link.refresh_from_db()
    key.refresh_from_db()
    assert job.status == "succeeded" and user.jobs.count() == 2  # the job and the image's own
    assert image.deleted_at is None and not image.is_favourite and not image.tags.exists()
    assert link.revoked_at is None and key.revoked_at is None
    assert story.chapters.count() == 1 and story.characters.count() == 1 and chapter.scenes.count() == 1


def test_bulk_actions_ignore_another_users_images(other_client, user):
    image = stored_image(user)
    response = other_client.post(reverse("gallery:bulk"), {"ids": [str(image.uuid)], "action": "trash"})
    assert response.status_code == 302
    image.refresh_from_db()
    assert image.deleted_at is None


def test_another_users_jobs_and_images_are_not_listed(other_client, user):
    GenerationJobFactory(owner=user, succeeded=True, prompt="my secret brief")
    stored_image(user, prompt="my secret picture")
    for name in ("generation:dashboard", "generation:jobs", "gallery:list"):
        body = other_client.get(reverse(name)).content.decode()
        assert "my secret" not in body, name


def test_share_page_stays_public(client, user):
    image = stored_image(user)
    link = create_share_link(owner=user, image=image)
    assert client.get(reverse("gallery:share", args=[link.token])).status_code == 200


def test_tiny_backend_banner_shows_when_a_tiny_worker_is_online(client, monkeypatch):
    monkeypatch.setattr(context_processors, "online_workers", lambda: [{"backend": "zimage"}, {"backend": "tiny"}])
    body = client.get(reverse("core:landing")).content.decode()
    assert "tiny random-weight test pipeline" in body


def test_no_banner_when_only_real_model_workers_are_online(client, monkeypatch):
    monkeypatch.setattr(context_processors, "online_workers", lambda: [{"backend": "zimage"}])
    body = client.get(reverse("core:landing")).content.decode()
    assert "tiny random-weight test pipeline" not in body


def test_the_banner_reads_real_worker_heartbeats(client):
    """The heartbeat key format the workers write is what the banner reads (db-wide, so only 'shows')."""
    connection = redis.Redis.from_url(settings.REDIS_URL)
    connection.set("zimage:worker:web-test", json.dumps({"backend": "tiny"}), ex=60)
    try:
        body = client.get(reverse("core:landing")).content.decode()
    finally:
        connection.delete("zimage:worker:web-test")
    assert "tiny random-weight test pipeline" in body


def test_the_navigation_marks_the_current_page(owner_client):
    body = owner_client.get(reverse("gallery:list")).content.decode()
    assert '<a href="/gallery/" aria-current="page">Gallery</a>' in body
    assert '<a href="/dashboard/">Dashboard</a>' in body


def test_the_header_links_to_the_presets_in_the_readers_language(user):
    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    english.force_login(user)
    assert '<a href="/presets/">Presets</a>' in english.get(reverse("generation:dashboard")).content.decode()
    korean = Client(HTTP_ACCEPT_LANGUAGE="ko")
    korean.force_login(user)
    body = korean.get(reverse("presets:list")).content.decode()
    assert '<a href="/presets/" aria-current="page">프리셋</a>' in body
