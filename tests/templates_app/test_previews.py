"""`manage.py seed` draws each curated template's preview with the diffusion backend (tiny in tests)."""

import io
import json

import pytest
import redis
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse
from PIL import Image

from generation.engine import diffusion
from templates_app.models import Template
from templates_app.sample_images import PREVIEW_LONG_SIDE, preview_request, preview_size, render_missing_previews
from templates_app.tasks import render_missing_previews_task

from ..factories import TemplateFactory

pytestmark = pytest.mark.django_db


def test_seed_creates_the_templates_and_draws_their_previews_once():
    out = io.StringIO()
    call_command("seed", stdout=out)
    templates = list(Template.objects.all())
    assert len(templates) >= 10
    assert all(template.preview for template in templates)
    poster = Template.objects.get(slug="movie-poster")
    with default_storage.open(poster.preview.name, "rb") as handle:
        image = Image.open(handle)
        image.load()
    assert image.size == preview_size(576, 1024) == (224, PREVIEW_LONG_SIDE)
    assert image.text["prompt"].startswith("an astronaut standing alone on a red desert planet, movie poster key art")
    assert image.text["backend"] == "tiny"

    keys = {template.slug: template.preview.name for template in templates}
    again = io.StringIO()
    call_command("seed", stdout=again)
    assert "Templates: 0 created." in again.getvalue()
    assert "Template previews: 0 drawn." in again.getvalue()
    assert {template.slug: template.preview.name for template in Template.objects.all()} == keys


def test_seed_can_skip_previews():
    call_command("seed", "--no-previews", stdout=io.StringIO())
    assert not Template.objects.exclude(preview="").exists()


def test_only_active_templates_without_a_preview_are_drawn():
    drawn = TemplateFactory(preview="templates/previews/existing.png")
    retired = TemplateFactory(is_active=False)
    missing = TemplateFactory()
    rendered, skipped = render_missing_previews()
    assert (rendered, skipped) == ([missing], [])
    assert diffusion._backend is None  # released: the launcher that seeds must not keep the model loaded
    drawn.refresh_from_db(), retired.refresh_from_db()
    assert (drawn.preview.name, retired.preview.name) == ("templates/previews/existing.png", "")


def test_the_preview_uses_the_templates_own_settings_at_a_small_size():
    template = TemplateFactory.build(sample_prompt="a linen dress")
    template.config |= {"width": 1024, "height": 576}
    template.save()
    request = preview_request(template)
    assert (request.prompt, request.negative_prompt) == ("a linen dress, studio light", "blurry")
    assert (request.width, request.height, request.steps) == (PREVIEW_LONG_SIDE, 224, 4)


def queued_task_names(queue: str) -> list[str]:
    """The task names waiting in a broker queue (kombu's Redis transport keeps a queue as a list)."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    return [json.loads(message)["headers"]["task"] for message in client.lrange(queue, 0, -1)]


def test_seed_without_the_diffusion_stack_leaves_the_previews_to_a_worker():
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("default")
    out = io.StringIO()
    call_command("seed", "--previews", "worker", stdout=out)
    count = Template.objects.count()
    assert f"Template previews: {count} left for a worker" in out.getvalue()
    assert not Template.objects.exclude(preview="").exists()
    assert queued_task_names("default") == ["templates_app.render_missing_previews"]
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("default")


def test_the_worker_task_draws_the_missing_previews_and_keeps_its_warm_backend():
    missing = TemplateFactory()
    assert render_missing_previews_task() == 1
    missing.refresh_from_db()
    assert missing.preview.name.startswith(f"templates/previews/{missing.slug}-v")
    assert diffusion._backend is not None  # a worker's next job must not load the model again
    diffusion.reset_backend()


def test_the_site_shows_a_placeholder_until_the_worker_has_drawn_the_sample_image(client, user):
    template = TemplateFactory()
    client.force_login(user)
    page = client.get(reverse("templates_app:detail", args=[template.slug])).content.decode()
    assert "No preview yet" in page and "Preview drawn from the sample prompt" not in page

    assert render_missing_previews_task() == 1
    diffusion.reset_backend()
    page = client.get(reverse("templates_app:detail", args=[template.slug])).content.decode()
    assert "No preview yet" not in page and "Preview drawn from the sample prompt" in page
