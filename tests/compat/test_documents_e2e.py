"""Each source document's request bodies, posted verbatim with an API key, and each answer read as that
document's client code reads it (its field names and status words), through a real worker."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from accounts.services import create_api_key
from gallery.models import GeneratedImage
from generation.models import GenerationJob, JobStatus
from templates_app.services import seed_curated_templates

from ..conftest import bearer
from ..factories import ChapterFactory, SceneFactory, StoryFactory, UserFactory
from ..waiting import finished_job, wait_until

pytestmark = pytest.mark.e2e

# Document 000's request, verbatim (the curated 3D-render template, named by its slug).
DOCUMENT_000_BODY = {
    "template_id": "3d-render",
    "prompt": "modern futuristic car in a cyberpunk city",
    "parameters": {
        "render_engine": "cycles",
        "lighting_setup": "dramatic",
        "width": 1024,
        "height": 1024,
        "steps": 35,
        "cfg_scale": 9.0,
    },
}
DOCUMENT_002_BODY = {
    "prompt": "a red sneaker on wet concrete",
    "model": "sdxl",
    "parameters": {"width": 256, "height": 256, "steps": 3, "guidance_scale": 6.5, "seed": 11},
}
DOCUMENT_003_BODY = {
    "prompt": "a bowl of ramen, steam rising",
    "negative_prompt": "blurry, text",
    "width": 256,
    "height": 256,
    "num_images": 2,
    "seed": 5,
}


@pytest.fixture
def key_user(transactional_db):
    return UserFactory()


@pytest.fixture
def key_client(key_user):
    """A customer's old client: the user's API key in `Authorization: Bearer`, nothing else."""
    return bearer(create_api_key(user=key_user, name="old client")[1])


def stream_messages(response) -> list[tuple[str, dict]]:
    blocks = b"".join(response.streaming_content).decode().split("\n\n")
    found = []
    for block in blocks:
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if "data" in fields:
            found.append((fields.get("event", "message"), json.loads(fields["data"])))
    return found


def test_document_000_a_template_job_with_its_inputs_and_its_stream(module_worker, key_client):
    seed_curated_templates()
    client = key_client
    response = client.post("/api/v1/generate", DOCUMENT_000_BODY, format="json")
    assert response.status_code == 202, response.content
    job_id = response.json()["job_id"]
    job = finished_job(job_id, timeout=240)
    assert job.status == JobStatus.SUCCEEDED, job.last_error
    assert (job.template.slug, job.model, job.width, job.height, job.steps, job.guidance) == (
        "3d-render",
        "stabilityai/stable-diffusion-xl-base-1.0",
        1024,
        1024,
        35,
        9.0,
    )
    assert job.inputs["lighting_setup"] == {"value": "dramatic", "prompt": "dramatic rim lighting, deep shadows"}
    assert "dramatic rim lighting, deep shadows" in job.enhanced_prompt
    assert job.enhanced_prompt.startswith("modern futuristic car in a cyberpunk city, blender cycles")
    image = job.images.get()
    with image.file.open("rb") as handle:
        png = Image.open(handle)
        png.load()
    assert json.loads(png.text["inputs"])["render_engine"]["value"] == "cycles"

    stream = client.get(f"/api/v1/generate/{job_id}/stream", HTTP_ACCEPT="text/event-stream")
    assert stream.status_code == 200 and stream["Content-Type"].startswith("text/event-stream")
    (event, snapshot), *_rest = stream_messages(stream)
    assert event == "snapshot" and snapshot["jobs"][0]["job"] == job_id
    assert snapshot["jobs"][0]["status"] == "succeeded", snapshot


def test_document_002_generate_then_status_then_the_jobs_list(module_worker, key_client):
    client = key_client
    response = client.post("/api/v1/generate", DOCUMENT_002_BODY, format="json")
    assert response.status_code == 202, response.content
    accepted = response.json()
    assert accepted["status"] == "pending" and accepted["message"]
    job_id = accepted["job_id"]

    def completed():
        body = client.get(f"/api/v1/status/{job_id}").json()
        return body if body["status"] in ("completed", "failed") else None

    status = wait_until(completed, timeout=120, message="document 002's status to say completed")
    assert status["status"] == "completed", status["error_message"]
    assert status["id"] == job_id and status["prompt"] == DOCUMENT_002_BODY["prompt"]
    assert status["media_path"] and status["error_message"] is None and status["created_at"]
    job = GenerationJob.objects.get(pk=job_id)
    assert (job.model, job.steps, job.guidance, job.seed) == ("stabilityai/stable-diffusion-xl-base-1.0", 3, 6.5, 11)
    assert client.get(status["media_path"]).status_code in (200, 302)

    listed = client.get("/api/v1/jobs", {"skip": 0, "limit": 10}).json()
    assert isinstance(listed, list) and [row["id"] for row in listed] == [job_id]
    assert listed[0] == status


def test_document_003_an_image_task_and_its_images(module_worker, key_client):
    client = key_client
    response = client.post("/api/v1/images/generate", DOCUMENT_003_BODY, format="json")
    assert response.status_code == 202, response.content
    accepted = response.json()
    assert accepted["status"] == "pending" and accepted["celery_task_id"] and accepted["estimated_time"] > 0
    task_id = accepted["task_id"]
    finished_job(task_id, timeout=120)
    task = client.get(f"/api/v1/tasks/{task_id}").json()
    assert task["task_id"] == task_id and task["status"] == "completed", task["error"]
    assert len(task["images"]) == 2 and task["error"] is None and task["created_at"]
    job = GenerationJob.objects.get(pk=task_id)
    assert (job.negative_prompt, job.num_images, job.seed, job.celery_task_id) == (
        "blurry, text",
        2,
        5,
        accepted["celery_task_id"],
    )


def test_document_004_a_scene_image_and_its_status(module_worker, key_user, key_client):
    client = key_client
    chapter = ChapterFactory(story=StoryFactory(owner=key_user))
    SceneFactory(chapter=chapter, scene_number=3, description="a lighthouse at dusk, waves")
    url = f"/api/v1/chapters/{chapter.pk}/images/scenes/3"
    response = client.post(url, {}, format="json")
    assert response.status_code == 202, response.content
    queued = response.json()
    assert queued["status"] == "pending" and queued["image_url"] is None and queued["retry_count"] == 0
    finished_job(queued["job_id"], timeout=120)
    status = client.get(f"{url}/status").json()
    assert status["status"] == "completed", status["error_message"]
    assert status["image_url"] and status["error_message"] is None and status["retry_count"] == 0
    assert GeneratedImage.objects.get(job_id=queued["job_id"]).image_type == "scene"
