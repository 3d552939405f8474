"""Website fixtures: logged-in browsers (Django's test client), and jobs, images and stories made through the
services the workers and pages use."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from PIL import Image

from core.context_processors import NOTICE_CACHE_KEY
from gallery.services import store_generated_image
from generation.models import GenerationJob
from scenes import services as story_services

from ..factories import TemplateFactory

XSS_PROMPT = '<script>alert(1)</script> dress" onmouseover="alert(2)'


@pytest.fixture(autouse=True)
def no_cached_backend_notice():
    cache.delete(NOTICE_CACHE_KEY)
    yield
    cache.delete(NOTICE_CACHE_KEY)


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


def make_job(owner, **fields) -> GenerationJob:
    values = dict(
        prompt="a linen summer dress",
        model="Tongyi-MAI/Z-Image-Turbo",
        scheduler="FlowMatchEulerDiscrete",
        steps=4,
        guidance=0.0,
        width=64,
        height=48,
        seed=7,
        status="succeeded",
        progress_step=4,
        progress_total=4,
        workflow=[{"node_type": "generation", "parameters": {}}],
    )
    return GenerationJob.objects.create(owner=owner, **(values | fields))


def store_image(owner, *, job=None, index=0, prompt="a linen summer dress", **job_fields):
    """A real stored image (PNG + thumbnail) through the worker's own service."""
    job = job or make_job(owner, prompt=prompt, **job_fields)
    return store_generated_image(
        job=job,
        index=index,
        image=Image.new("RGB", (job.width, job.height), (200, 40, 40)),
        prompt_used=prompt,
        negative_prompt_used="blurry",
        seed=job.seed + index,
        backend="tiny",
        generation_seconds=0.5,
    )


@pytest.fixture
def image(user):
    return store_image(user)


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
