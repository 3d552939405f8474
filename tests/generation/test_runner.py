"""The worker side (generation.runner), in this process with the tiny pipeline: races settled by the database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.storage import default_storage

from accounts.models import CreditEntry, EntryKind
from gallery.models import GeneratedImage
from generation import runner, services
from generation.engine.workflow import NODE_TYPES, Node, WorkflowContext, register_node
from generation.models import GenerationJob, JobStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def cancel_when_drawn():
    """`cancel_when_drawn(job, index)`: the job runs a node between generation and save_image that cancels it
    (through the real cancel service) once image `index` is drawn and before it is stored — the window between
    the last denoising step and the stored image, made deterministic."""

    @register_node("test_cancel_when_drawn")
    class CancelWhenDrawn(Node):
        parameters = {"job": ((int,), True), "index": ((int,), True)}

        def run(self, context: WorkflowContext) -> None:
            context.images = self._cancel_at(context.images)

        def _cancel_at(self, images: Any) -> Iterator[Any]:
            for index, image in images:
                if index == self.params["index"]:
                    services.cancel_job(job=GenerationJob.objects.get(pk=self.params["job"]))
                yield index, image

    def arm(job: GenerationJob, index: int) -> GenerationJob:
        workflow = [
            {"node_type": "generation", "parameters": {}},
            {"node_type": "test_cancel_when_drawn", "parameters": {"job": job.pk, "index": index}},
            {"node_type": "save_image", "parameters": {}},
        ]
        GenerationJob.objects.filter(pk=job.pk).update(workflow=workflow)
        return job

    yield arm
    del NODE_TYPES["test_cancel_when_drawn"]


def stored_files(job: GenerationJob) -> list[str]:
    folder = f"images/{job.owner_id}/{job.pk}"
    return default_storage.listdir(folder)[1] if default_storage.exists(folder) else []


def settlement(job: GenerationJob) -> dict[str, int]:
    return dict(CreditEntry.objects.filter(job=job).values_list("kind", "reserved_change"))


def run(job: GenerationJob) -> runner.RunOutcome:
    return runner.execute_job(job_id=job.pk, dispatch_token=str(job.dispatch_token))


def test_a_cancel_after_the_last_step_stores_no_image_and_charges_nothing(user, submit, cancel_when_drawn):
    job = cancel_when_drawn(submit(user, num_images=1), index=0)

    assert run(job) == runner.RunOutcome.INTERRUPTED

    job.refresh_from_db()
    assert (job.status, job.images_done) == (JobStatus.CANCELED, 0)
    assert not GeneratedImage.objects.filter(job=job).exists()
    assert stored_files(job) == []
    assert settlement(job) == {EntryKind.RESERVATION: job.credit_cost, EntryKind.RELEASE: -job.credit_cost}
    user.refresh_from_db()
    assert (user.credit_balance, user.credits_reserved) == (1000, 0)


def test_images_stored_before_a_cancel_are_kept_and_charged_the_rest_released(user, submit, cancel_when_drawn):
    job = cancel_when_drawn(submit(user, num_images=2), index=1)

    assert run(job) == runner.RunOutcome.INTERRUPTED

    job.refresh_from_db()
    assert (job.status, job.images_done) == (JobStatus.CANCELED, 1)
    assert list(GeneratedImage.objects.filter(job=job).values_list("index", flat=True)) == [0]
    assert len(stored_files(job)) == 2  # the first image's PNG and thumbnail, nothing of the second
    half = job.credit_cost // 2
    assert settlement(job) == {
        EntryKind.RESERVATION: job.credit_cost,
        EntryKind.CHARGE: -half,
        EntryKind.RELEASE: -(job.credit_cost - half),
    }


def test_an_sdxl_template_job_runs_on_sdxls_own_pipeline_with_its_scheduler(user):
    """The 3D-render template's settings, on the tiny SDXL: the worker path the real SDXL takes."""
    from diffusers import StableDiffusionXLPipeline

    from generation.engine.diffusion import get_backend
    from templates_app.seed_templates import CURATED_TEMPLATES

    from ..factories import TemplateFactory

    config = next(entry["config"] for entry in CURATED_TEMPLATES if entry["slug"] == "3d-render")
    template = TemplateFactory(production_path="cartoon", config=config | {"steps": 20, "width": 256, "height": 256})
    job = services.submit_job(user=user, prompt="modern futuristic car in a cyberpunk city", template=template)
    assert (job.model, job.scheduler, job.guidance) == (config["model"], "DPMSolverMultistep", 9.0)

    assert run(job) == runner.RunOutcome.SUCCEEDED

    image = GeneratedImage.objects.get(job=job)
    assert (image.model, image.width, image.height) == (config["model"], 256, 256)
    assert image.negative_prompt_used.startswith("2d, flat, painting")
    pipeline = get_backend()._pipeline(config["model"])
    assert isinstance(pipeline, StableDiffusionXLPipeline)
    assert type(pipeline.scheduler).__name__ == "DPMSolverMultistepScheduler"


@pytest.fixture
def text_encoder_calls():
    """`calls(model)`: how often that model's text encoders have run since the first call for it (forward hooks)."""
    from generation.engine.diffusion import get_backend

    counts: dict[str, int] = {}
    handles = []

    def count(model: str) -> None:
        counts[model] += 1

    def calls(model: str) -> int:
        if model not in counts:
            counts[model] = 0
            pipeline = get_backend()._pipeline(model)
            for encoder in (pipeline.text_encoder, getattr(pipeline, "text_encoder_2", None)):
                if encoder is not None:
                    handles.append(encoder.register_forward_hook(lambda *_: count(model)))
        return counts[model]

    yield calls
    for handle in handles:
        handle.remove()


def test_a_jobs_prompt_is_encoded_once_for_all_its_images(user, submit, text_encoder_calls):
    job = submit(user, prompt="a linen dress on a windy pier, encoded once", num_images=3)
    assert text_encoder_calls(job.model) == 0

    assert run(job) == runner.RunOutcome.SUCCEEDED

    assert GeneratedImage.objects.filter(job=job).count() == 3
    assert text_encoder_calls(job.model) == 1  # Turbo runs without guidance: no negative embedding either


def test_an_sdxl_job_encodes_its_prompt_and_negative_prompt_once_per_encoder(user, text_encoder_calls):
    from ..factories import TemplateFactory

    config = {
        "model": "stabilityai/stable-diffusion-xl-base-1.0",
        "scheduler": "EulerDiscrete",
        "steps": 2,
        "cfg_scale": 7.0,
        "width": 256,
        "height": 256,
        "pipeline": [{"node_type": "generation", "parameters": {"negative_prompt": "blurry, flat"}}],
    }
    template = TemplateFactory(production_path="cartoon", config=config, max_images=2)
    job = services.submit_job(
        user=user, prompt="a tin robot, encoded once per encoder", template=template, num_images=2
    )
    assert text_encoder_calls(job.model) == 0

    assert run(job) == runner.RunOutcome.SUCCEEDED

    assert GeneratedImage.objects.filter(job=job).count() == 2
    assert text_encoder_calls(job.model) == 4  # two encoders x (prompt, negative prompt), for both images
