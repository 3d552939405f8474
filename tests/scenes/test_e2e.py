"""A scene image through its whole life: the API queues it, a real worker draws it, status follows along."""

import io
import time
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from accounts.models import CreditEntry, EntryKind
from gallery.models import ImageType
from generation.engine.diffusion import get_backend
from generation.engine.paths import get_path
from scenes import services
from scenes.models import StoryImageRequest

from ..factories import (
    SDXL_TEMPLATE_CONFIG,
    ChapterFactory,
    CharacterFactory,
    SceneFactory,
    TemplateFactory,
    diffusion_request,
    png_bytes,
)
from ..waiting import wait_until

pytestmark = pytest.mark.e2e


def poll_status(api_client, url, statuses, timeout=90):
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api_client.get(url).json()
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        if body["status"] in statuses:
            return body, seen
        time.sleep(0.05)
    raise AssertionError(f"still {seen[-1]} after {timeout}s: {body}")


def test_the_status_endpoint_follows_a_scene_job_to_a_downloadable_image(worker, api_client, user):
    chapter = ChapterFactory(story__owner=user, story__production_path="cartoon", number=1)
    mia = CharacterFactory(story=chapter.story, name="Mia", description="a girl with a yellow kite")
    SceneFactory(chapter=chapter, scene_number=1, description="a kite over the dunes", characters=[mia])
    base = f"/api/v1/chapters/{chapter.pk}/scenes/1"

    queued = api_client.post(f"{base}/images", {"seed": 11}, format="json")
    assert queued.status_code == 202, queued.content
    assert queued.json()["status"] == "queued"
    body, seen = poll_status(api_client, f"{base}/status", {"succeeded", "failed"})

    assert body["status"] == "succeeded", body["error_message"]
    assert seen[-1] == "succeeded"
    assert set(seen) <= {"queued", "running", "succeeded"}
    assert (body["error_message"], body["retry_count"], body["percent"]) == ("", 0, 100)
    download = api_client.get(body["image_url"])
    assert download.status_code == 200, download.content
    with Image.open(io.BytesIO(b"".join(download.streaming_content))) as png:
        png.load()
        assert png.text["prompt"].startswith("a kite over the dunes, Mia (a girl with a yellow kite)")
        assert png.text["seed"] == "11"

    job = StoryImageRequest.objects.get().job
    image = job.images.get()
    assert (job.image_type, image.image_type) == (ImageType.SCENE, ImageType.SCENE)


def test_a_five_thousand_character_scene_is_drawn_from_its_beginning_and_says_so(worker, api_client, user):
    """A story's prompt is composed from its own text: too long for the model, it is cut, never refused."""
    chapter = ChapterFactory(story__owner=user, number=1)
    description = "a lighthouse keeper climbs the spiral stairs at dawn " * 100  # about 5,300 characters
    SceneFactory(chapter=chapter, scene_number=1, description=description)
    base = f"/api/v1/chapters/{chapter.pk}/scenes/1"

    queued = api_client.post(f"{base}/images", {}, format="json")
    assert queued.status_code == 202, queued.content
    body, _ = poll_status(api_client, f"{base}/status", {"succeeded", "failed"})

    assert body["status"] == "succeeded", body["error_message"]
    job = StoryImageRequest.objects.get().job
    assert job.prompt_truncated and job.images.count() == 1
    assert job.prompt.startswith("a lighthouse keeper climbs") and len(job.prompt) <= 2000
    assert api_client.get(f"/api/v1/jobs/{job.pk}").json()["prompt_truncated"] is True
    api_client.force_login(user)
    page = api_client.get(f"/jobs/{job.pk}/").content.decode()
    assert 'data-field="prompt-truncated"' in page


def test_a_characters_reference_image_is_where_a_worker_draws_its_scene_from(worker, api_client, user):
    chapter = ChapterFactory(story__owner=user, story__production_path="cartoon", number=1)
    mia = services.create_character(
        story=chapter.story, name="Mia", reference_png=png_bytes((320, 256), color=(200, 120, 30))
    )
    SceneFactory(chapter=chapter, scene_number=1, description="a kite over the dunes", characters=[mia])
    base = f"/api/v1/chapters/{chapter.pk}/scenes/1"

    assert api_client.post(f"{base}/images", {}, format="json").status_code == 202
    body, _ = poll_status(api_client, f"{base}/status", {"succeeded", "failed"}, timeout=180)

    assert body["status"] == "succeeded", body["error_message"]
    mia.refresh_from_db()
    job = StoryImageRequest.objects.get().job
    image = job.images.get()
    assert (image.width, image.height) == get_path("cartoon").default_size
    with image.file.open("rb") as handle, Image.open(io.BytesIO(handle.read())) as png:
        png.load()
        assert (png.text["mode"], png.text["source_image"]) == ("image", str(mia.reference_source.uuid))
        assert (float(png.text["strength"]), png.text["seed"]) == (0.55, str(mia.seed))


def sdxl_scene_with_reference(user):
    template = TemplateFactory(production_path="cartoon", config=SDXL_TEMPLATE_CONFIG)
    chapter = ChapterFactory(story__owner=user, story__production_path="cartoon", story__template=template, number=1)
    mia = services.create_character(
        story=chapter.story, name="Mia", reference_png=png_bytes((320, 256), color=(200, 120, 30))
    )
    SceneFactory(chapter=chapter, scene_number=1, description="a kite over the dunes", characters=[mia])
    return chapter, mia


def test_on_sdxl_with_the_adapter_installed_a_worker_draws_the_scene_through_ip_adapter(
    start_worker, api_client, user, ip_adapter_weights
):
    start_worker(DIFFUSION_WEIGHTS_DIR=str(ip_adapter_weights))
    chapter, mia = sdxl_scene_with_reference(user)
    base = f"/api/v1/chapters/{chapter.pk}/scenes/1"

    assert api_client.post(f"{base}/images", {}, format="json").status_code == 202
    body, _ = poll_status(api_client, f"{base}/status", {"succeeded", "failed"}, timeout=180)

    assert body["status"] == "succeeded", body["error_message"]
    mia.refresh_from_db()
    job = StoryImageRequest.objects.get().job
    assert (job.reference_method, job.progress_step, job.progress_total) == ("ip_adapter", 3, 3)  # every step drawn
    assert api_client.get(f"/api/v1/jobs/{job.pk}").json()["reference_method"] == "ip_adapter"
    image = job.images.get()
    with image.file.open("rb") as handle, Image.open(io.BytesIO(handle.read())) as png:
        png.load()
        assert (png.text["reference_method"], png.text["ip_adapter_scale"]) == ("ip_adapter", "0.45")
        assert (png.text["mode"], png.text["source_image"]) == ("image", str(mia.reference_source.uuid))
        assert (png.text["model"], png.text["seed"], png.size) == (
            SDXL_TEMPLATE_CONFIG["model"],
            str(mia.seed),
            (256, 256),
        )
        drawn = np.asarray(png.convert("RGB"), dtype=np.int16)
        prompts = (png.text["prompt"], png.text["negative_prompt"])
    # The same request drawn here, on this process's tiny SDXL: the worker's image is exactly the one conditioned on
    # the reference at 0.45, not the one without it.
    request = diffusion_request(
        prompt=prompts[0], negative_prompt=prompts[1], model=job.model, scheduler="EulerDiscrete", steps=3,
        guidance=5.0, width=256, height=256, seed=mia.seed,
    )  # fmt: skip
    with mia.reference_image.open("rb") as handle, Image.open(io.BytesIO(handle.read())) as reference:
        reference.load()
    backend = get_backend()
    try:
        with_reference = backend.generate(replace(request, reference=reference, reference_scale=0.45), lambda *_: None)
        without = backend.generate(request, lambda *_: None)
    finally:
        backend.forget_model(job.model)  # and the adapter loaded into it, whose files go with this test
    assert (drawn == np.asarray(with_reference, dtype=np.int16)).all()
    assert not (drawn == np.asarray(without, dtype=np.int16)).all()


def test_corrupt_adapter_weights_fail_the_scene_job_clearly_and_refund_it(
    start_worker, api_client, user, ip_adapter_weights
):
    weight_file = ip_adapter_weights / "IP-Adapter" / "sdxl_models" / "ip-adapter_sdxl.safetensors"
    weight_file.write_bytes(weight_file.read_bytes()[:200])  # a download cut short
    start_worker(DIFFUSION_WEIGHTS_DIR=str(ip_adapter_weights))
    chapter, _ = sdxl_scene_with_reference(user)
    before = user.credit_balance
    base = f"/api/v1/chapters/{chapter.pk}/scenes/1"

    assert api_client.post(f"{base}/images", {}, format="json").status_code == 202
    body, _ = poll_status(api_client, f"{base}/status", {"succeeded", "failed"}, timeout=180)

    assert body["status"] == "failed"
    assert body["error_message"].startswith("WeightsUnavailable: IP-Adapter weights for SDXL (h94/IP-Adapter) are")
    assert "unreadable" in body["error_message"] and "DIFFUSION_WEIGHTS_DIR/IP-Adapter" in body["error_message"]
    job = StoryImageRequest.objects.get().job
    assert not job.images.exists()
    refunded = wait_until(
        lambda: (fresh := type(user).objects.get(pk=user.pk)).credits_reserved == 0 and fresh,
        timeout=30,
        message="the failed job's credits to be released",
    )
    assert refunded.credit_balance == before
    assert not CreditEntry.objects.filter(job=job, kind=EntryKind.CHARGE).exists()
