"""Website fixtures: logged-in browsers (Django's test client), an image and a story made through the services
the workers and pages use."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from core.context_processors import NOTICE_CACHE_KEY
from scenes import services as story_services

from ..factories import TemplateFactory, stored_image
from ..processes import DaphneProcess

XSS_PROMPT = '<script>alert(1)</script> dress" onmouseover="alert(2)'


@pytest.fixture(autouse=True)
def no_cached_backend_notice():
    cache.delete(NOTICE_CACHE_KEY)
    yield
    cache.delete(NOTICE_CACHE_KEY)


@pytest.fixture
def browser(tmp_path):
    """A headless Chromium of the test's own (its profile under tmp_path), closed after it."""
    from .test_browser_e2e import Browser  # that module imports this one's XSS_PROMPT

    browser = Browser(tmp_path / "chromium-profile")
    yield browser
    browser.close()


@pytest.fixture
def daphne(transactional_db):
    """The site under daphne (HTTP and WebSockets, as `make run` serves it), for pages that follow jobs live."""
    server = DaphneProcess().ready()
    yield server
    server.stop()


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(user) -> Client:
    return login(user)


@pytest.fixture
def other_client(other_user) -> Client:
    return login(other_user)


@pytest.fixture
def template(db):
    return TemplateFactory(slug="lookbook", name="Lookbook", bounds={"steps": [2, 8]})


@pytest.fixture
def image(user):
    return stored_image(user)


@pytest.fixture
def story(user):
    """A story with a character, a chapter and a scene that has an image generated for it."""
    story = story_services.create_story(owner=user, title="The lighthouse", production_path="cinema")
    character = story_services.create_character(story=story, name="Mara", description="yellow raincoat")
    chapter = story_services.create_chapter(story=story, number=1, title="Storm")
    story_services.create_scene(
        chapter=chapter, scene_number=1, description="A lighthouse in a storm", characters=[character]
    )
    return story
