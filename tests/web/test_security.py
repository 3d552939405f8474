"""Stored XSS through prompts and story text is escaped on every page that shows it; every page carries a
Content-Security-Policy that allows only this site's own scripts and styles; forms keep their CSRF token."""

from __future__ import annotations

import io
import re
import zipfile
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import ApiKey
from gallery.services import create_share_link
from generation.models import GenerationJob
from scenes import services as story_services

from ..factories import GenerationJobFactory, stored_image
from .conftest import XSS_PROMPT

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)


class AttributeCollector(HTMLParser):
    """Every attribute name in a page, as a browser's parser sees it (escaped text inside a value is not one)."""

    def __init__(self):
        super().__init__()
        self.names: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.names.update(name.lower() for name, _ in attrs)


def attribute_names(body: str) -> set[str]:
    collector = AttributeCollector()
    collector.feed(body)
    return collector.names


def event_handlers(body: str) -> set[str]:
    return {name for name in attribute_names(body) if name.startswith("on")}


@pytest.fixture
def xss_objects(user, template):
    job = GenerationJobFactory(
        owner=user, prompt=XSS_PROMPT, negative_prompt=XSS_PROMPT, template=template, failed=True
    )
    GenerationJob.objects.filter(pk=job.pk).update(last_error=XSS_PROMPT)
    running = GenerationJobFactory(owner=user, prompt=XSS_PROMPT, running=True)
    image = stored_image(user, prompt=XSS_PROMPT)
    story = story_services.create_story(owner=user, title=XSS_PROMPT, description=XSS_PROMPT, style="ink")
    character = story_services.create_character(story=story, name="Mara <i>", description=XSS_PROMPT)
    chapter = story_services.create_chapter(story=story, number=1, title=XSS_PROMPT, script=XSS_PROMPT)
    story_services.create_scene(chapter=chapter, scene_number=1, description=XSS_PROMPT, characters=[character])
    return {"job": job, "running": running, "image": image, "story": story, "chapter": chapter}


def prompt_pages(objects) -> list[str]:
    return [
        reverse("generation:dashboard"),
        reverse("generation:jobs"),
        reverse("generation:job", args=[objects["job"].pk]),
        reverse("generation:job", args=[objects["running"].pk]),
        reverse("generation:generate") + f"?from_job={objects['job'].pk}",
        reverse("generation:generate") + f"?from_image={objects['image'].uuid}",
        reverse("gallery:list"),
        reverse("gallery:list") + "?q=dress",
        reverse("gallery:image", args=[objects["image"].uuid]),
        reverse("scenes:list"),
        reverse("scenes:story", args=[objects["story"].pk]),
        reverse("scenes:chapter", args=[objects["chapter"].pk]),
    ]


def test_prompts_are_escaped_on_every_page_that_shows_them(owner_client, xss_objects):
    for url in prompt_pages(xss_objects):
        response = owner_client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert "<script>alert(1)" not in body, url
        assert '" onmouseover="alert(2)' not in body, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, url
        assert event_handlers(body) == set(), url


def test_the_trash_escapes_prompts_too(owner_client, xss_objects):
    image = xss_objects["image"]
    owner_client.post(reverse("gallery:image-trash", args=[image.uuid]))
    body = owner_client.get(reverse("gallery:trash")).content.decode()
    assert "<script>alert(1)" not in body and "&lt;script&gt;alert(1)" in body


def test_a_search_term_is_escaped(owner_client):
    body = owner_client.get(reverse("gallery:list") + "?q=%3Cscript%3Ealert(3)%3C/script%3E").content.decode()
    assert "<script>alert(3)" not in body


def test_every_page_sends_a_self_only_content_security_policy(owner_client, xss_objects):
    pages = [*prompt_pages(xss_objects), reverse("core:landing"), reverse("accounts:profile")]
    pages += [reverse("templates_app:list"), reverse("gallery:trash")]
    for url in pages:
        response = owner_client.get(url)
        policy = response["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["script-src"] == "'self'", url
        assert directives["style-src"] == "'self'", url
        assert directives["default-src"] == "'self'", url
        assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'", url
        assert "unsafe" not in policy, url


def test_pages_have_no_inline_scripts_handlers_or_style_attributes(owner_client, client, xss_objects):
    """What the policy would block must not be needed: all behaviour and style comes from static files."""
    pages = [*prompt_pages(xss_objects), reverse("templates_app:list"), reverse("accounts:profile")]
    for url in pages:
        body = owner_client.get(url).content.decode()
        assert INLINE_SCRIPT.search(body) is None, url
        assert "style" not in attribute_names(body), url
        assert event_handlers(body) == set(), url
    for name in ("core:landing", "accounts:login", "accounts:signup", "accounts:password_reset"):
        body = client.get(reverse(name)).content.decode()
        assert INLINE_SCRIPT.search(body) is None and "style" not in attribute_names(body), name


def test_the_public_share_page_keeps_its_own_stricter_policy(client, user):
    link = create_share_link(owner=user, image=stored_image(user))
    response = client.get(reverse("gallery:share", args=[link.token]))
    assert response["Content-Security-Policy"].startswith("default-src 'none'")


def test_forms_refuse_a_post_without_the_csrf_token(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(reverse("generation:generate"), {"prompt": "x", "production_path": "fashion"})
    assert response.status_code == 403
    assert GenerationJob.objects.count() == 0
    page = client.get(reverse("generation:generate")).content.decode()
    assert 'name="csrfmiddlewaretoken"' in page


# --- The page actions, end to end through the views --------------------------------------------


def test_bulk_download_returns_a_zip_of_the_selected_originals(owner_client, user):
    first, second = stored_image(user), stored_image(user)
    response = owner_client.post(
        reverse("gallery:bulk"), {"ids": [str(first.uuid), str(second.uuid)], "action": "download"}
    )
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert len(archive.namelist()) == 2
    assert all(name.endswith(".png") for name in archive.namelist())


def test_bulk_move_favourite_and_trash(owner_client, user):
    from gallery.services import create_folder

    folder = create_folder(owner=user, name="Picks")
    image = stored_image(user)
    url = reverse("gallery:bulk")
    owner_client.post(url, {"ids": [str(image.uuid)], "action": "move", "folder": str(folder.pk)})
    owner_client.post(url, {"ids": [str(image.uuid)], "action": "favourite"})
    image.refresh_from_db()
    assert image.folder == folder and image.is_favourite
    owner_client.post(url, {"ids": [str(image.uuid)], "action": "trash"})
    image.refresh_from_db()
    assert image.deleted_at is not None
    owner_client.post(reverse("gallery:trash-restore", args=[image.uuid]))
    image.refresh_from_db()
    assert image.deleted_at is None


def test_organise_sets_folder_and_tags_and_share_links_open_until_revoked(owner_client, client, user, image):
    from gallery.services import create_folder

    folder = create_folder(owner=user, name="Summer")
    owner_client.post(
        reverse("gallery:image-organise", args=[image.uuid]), {"folder": str(folder.pk), "tags": "hero, blue"}
    )
    image.refresh_from_db()
    assert image.folder == folder and sorted(t.name for t in image.tags.all()) == ["blue", "hero"]
    owner_client.post(reverse("gallery:image-share", args=[image.uuid]), {"expires_in_days": "7"})
    link = user.share_links.get()
    assert link.expires_at is not None
    assert client.get(reverse("gallery:share", args=[link.token])).status_code == 200
    page = owner_client.get(reverse("gallery:image", args=[image.uuid])).content.decode()
    assert link.token in page
    owner_client.post(reverse("gallery:share-link-revoke", args=[link.pk]))
    assert client.get(reverse("gallery:share", args=[link.token])).status_code == 404


def test_api_keys_are_shown_once_and_can_be_revoked(owner_client, user):
    response = owner_client.post(reverse("accounts:key-create"), {"name": "CMS"})
    key = ApiKey.objects.get(user=user)
    body = response.content.decode()
    secret = re.search(r'<code id="api-key">(zk_[^<]+)</code>', body).group(1)
    assert secret.startswith(key.prefix)
    assert response["Cache-Control"].startswith("max-age=0")
    assert secret not in owner_client.get(reverse("accounts:profile")).content.decode()
    owner_client.post(reverse("accounts:key-revoke", args=[key.pk]))
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_stories_chapters_scenes_and_their_images_are_made_from_the_pages(owner_client, user):
    owner_client.post(reverse("scenes:list"), {"title": "Harbour", "production_path": "cinema"})
    story = user.stories.get()
    owner_client.post(reverse("scenes:character-create", args=[story.pk]), {"name": "Ada"})
    owner_client.post(reverse("scenes:chapter-create", args=[story.pk]), {"number": 1, "title": "Dawn"})
    chapter = story.chapters.get()
    character = story.characters.get()
    owner_client.post(
        reverse("scenes:scene-create", args=[chapter.pk]),
        {"scene_number": 1, "description": "Boats at dawn", "characters": [str(character.pk)]},
    )
    owner_client.post(reverse("scenes:scene-create", args=[chapter.pk]), {"scene_number": 2, "description": "Fog"})
    response = owner_client.post(reverse("scenes:chapter-generate", args=[chapter.pk]))
    assert response.status_code == 302
    jobs = GenerationJob.objects.filter(owner=user, image_type="scene")
    assert jobs.count() == 2
    assert jobs.get(seed=character.seed).prompt.startswith("Boats at dawn, Ada")
    response = owner_client.post(reverse("scenes:character-generate", args=[character.pk]))
    character_job = GenerationJob.objects.get(image_type="character")
    assert response.url == reverse("generation:job", args=[character_job.pk])


def test_a_duplicate_chapter_number_is_reported_on_its_field(owner_client, story):
    response = owner_client.post(reverse("scenes:chapter-create", args=[story.pk]), {"number": 1})
    assert response.status_code == 400
    assert response.context["chapter_form"].errors["number"]


def test_the_api_docs_load_only_from_this_site(client):
    response = client.get(reverse("swagger-ui"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "cdn." not in body and "<style" not in body
    assert INLINE_SCRIPT.search(body) is None
    assert "/static/drf_spectacular_sidecar/" in body
    assert client.get(reverse("swagger-ui") + "?script=").status_code == 200
    redoc = client.get(reverse("redoc"))
    assert "fonts.googleapis" not in redoc.content.decode()
    assert "script-src 'self';" in redoc["Content-Security-Policy"]
