"""How a character's reference conditions its jobs, decided at submit and shown: SDXL's IP-Adapter where its weights
are installed, image-to-image from the reference otherwise (always on Z-Image). No worker here: test_e2e.py draws."""

import pytest
from django.utils import translation

from generation.models import GenerationJob, JobStatus, ReferenceMethod
from generation.services import retry_job
from scenes import services

from ..conftest import client_for
from ..factories import (
    SDXL_TEMPLATE_CONFIG,
    ChapterFactory,
    CharacterFactory,
    SceneFactory,
    StoryFactory,
    TemplateFactory,
    png_bytes,
)

pytestmark = pytest.mark.django_db


def story_on(user, config=None):
    """A cartoon story; on an SDXL template with `config`, else on the path's own model (Z-Image)."""
    template = TemplateFactory(production_path="cartoon", config=config) if config else None
    return StoryFactory(owner=user, production_path="cartoon", template=template)


def scene_with_reference(story, strength=0.55):
    mia = services.create_character(
        story=story, name="Mia", reference_png=png_bytes((320, 256)), reference_strength=strength
    )
    chapter = ChapterFactory(story=story, number=1)
    return SceneFactory(chapter=chapter, scene_number=1, description="a kite over the dunes", characters=[mia]), mia


def test_with_the_adapter_installed_an_sdxl_scene_goes_through_ip_adapter_at_full_steps(user, ip_adapter_weights):
    scene, mia = scene_with_reference(story_on(user, SDXL_TEMPLATE_CONFIG), strength=0.3)
    job = services.generate_scene_image(scene=scene).job

    mia.refresh_from_db()
    assert (job.reference_method, job.mode, job.source_upload, job.strength) == (
        ReferenceMethod.IP_ADAPTER,
        "image",  # it reads the reference; drawn from noise, conditioned on it
        mia.reference_source,
        0.3,
    )
    assert job.progress_total == 3  # every step, where image-to-image at 0.3 would run int(3 x 0.3) = 0 -> 1
    assert job.ip_adapter_scale == 0.7


def test_a_character_portrait_on_sdxl_goes_through_ip_adapter_too(user, ip_adapter_weights):
    _, mia = scene_with_reference(story_on(user, SDXL_TEMPLATE_CONFIG))
    job = services.generate_character_image(character=mia).job
    assert (job.reference_method, job.ip_adapter_scale) == (ReferenceMethod.IP_ADAPTER, 0.45)


def test_without_the_adapters_files_the_reference_is_image_to_image_and_says_so(user, settings, tmp_path):
    settings.DIFFUSION_WEIGHTS_DIR = str(tmp_path)  # a weights folder without IP-Adapter in it
    scene, _ = scene_with_reference(story_on(user, SDXL_TEMPLATE_CONFIG))
    job = services.generate_scene_image(scene=scene).job
    assert (job.reference_method, job.mode, job.ip_adapter_scale) == (ReferenceMethod.IMAGE_TO_IMAGE, "image", None)
    assert job.progress_total == 1  # image-to-image at 0.55 of 3 steps: int(1.65)


def test_z_image_draws_the_reference_image_to_image_even_with_the_adapter_installed(user, ip_adapter_weights):
    scene, _ = scene_with_reference(story_on(user))
    job = services.generate_scene_image(scene=scene).job
    assert (job.model, job.reference_method) == ("Tongyi-MAI/Z-Image-Turbo", ReferenceMethod.IMAGE_TO_IMAGE)


def test_a_scene_without_a_reference_records_no_reference_method(user, ip_adapter_weights):
    story = story_on(user, SDXL_TEMPLATE_CONFIG)
    scene = SceneFactory(chapter__story=story, characters=[CharacterFactory(story=story)])
    job = services.generate_scene_image(scene=scene).job
    assert (job.mode, job.reference_method) == ("text", "")


def test_the_job_api_and_page_say_how_the_reference_conditions_the_job(user, client, ip_adapter_weights):
    scene, _ = scene_with_reference(story_on(user, SDXL_TEMPLATE_CONFIG))
    job = services.generate_scene_image(scene=scene).job

    body = client_for(user).get(f"/api/v1/jobs/{job.pk}").json()
    assert (body["reference_method"], body["mode"], body["strength"]) == ("ip_adapter", "image", 0.55)
    client.force_login(user)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert 'data-field="mode">Text to image<' in page
    assert 'data-field="reference-method">IP-Adapter identity (SDXL)<' in page
    assert 'data-field="ip-adapter-scale">0.45<' in page and 'data-field="strength"' not in page
    with translation.override("ko"):  # and asked for as a browser does, where the locale middleware decides
        korean = client.get(f"/jobs/{job.pk}/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "캐릭터 참조" in korean and 'data-field="reference-method">IP-Adapter 인물 유지 (SDXL)<' in korean


def test_an_image_to_image_reference_is_shown_as_such(user, client, settings):
    settings.DIFFUSION_WEIGHTS_DIR = ""
    scene, _ = scene_with_reference(story_on(user))
    job = services.generate_scene_image(scene=scene).job
    assert client_for(user).get(f"/api/v1/jobs/{job.pk}").json()["reference_method"] == "image"
    client.force_login(user)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert 'data-field="reference-method">Image to image from the reference<' in page
    assert 'data-field="strength">0.55<' in page


def test_a_retried_reference_job_conditions_on_the_reference_again(user, ip_adapter_weights):
    scene, _ = scene_with_reference(story_on(user, SDXL_TEMPLATE_CONFIG))
    job = services.generate_scene_image(scene=scene).job
    GenerationJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED)

    retry = retry_job(job=job)
    assert (retry.reference_method, retry.source_upload, retry.strength) == (
        ReferenceMethod.IP_ADAPTER,
        job.source_upload,
        0.55,
    )
