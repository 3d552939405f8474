"""Writes for generation jobs: submit, dispatch, cancel, retry and re-dispatch. The worker side is runner.py."""

from __future__ import annotations

import logging
import random
import uuid
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from gallery.models import ImageType

from . import events
from .credits import admit_job, settle_job_credits
from .engine.job_input import JobInput, clean_prompt
from .engine.models_catalog import DEFAULT_MODEL, MAX_IMAGES_PER_JOB, MODELS, SIZE_PRESETS, get_model
from .engine.paths import PathSpec, get_path, resolve_path
from .models import GenerationJob, JobStatus
from .ops import monitoring

if TYPE_CHECKING:
    from accounts.models import User
    from templates_app.models import Template

logger = logging.getLogger(__name__)

MAX_SEED = 2**32 - 1


# --- submit ----------------------------------------------------------------------------------


def _int_in(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({field: "Must be a whole number."})
    if not low <= value <= high:
        raise ValidationError({field: f"Must be between {low} and {high}."})
    return value


def _job_path(production_path: str | None, template: Template | None) -> PathSpec:
    if template is None:
        return resolve_path(production_path)
    if production_path and production_path != template.production_path:
        raise ValidationError({"production_path": f"The template belongs to the {template.production_path} path."})
    return get_path(template.production_path)


def _check_template_allows(template: Template, overrides: dict[str, Any], size_preset: str | None) -> None:
    if not template.is_active:
        raise ValidationError({"template": "This template is not available."})
    allowed = set(template.overridable)
    for name, value in overrides.items():
        if value is not None and name not in allowed:
            raise ValidationError({name: f"The template {template.name!r} does not let you change this."})
    if size_preset is not None and not {"width", "height"} <= allowed:
        raise ValidationError({"size_preset": f"The template {template.name!r} has a fixed size."})


def submit_job(
    *,
    user: User,
    prompt: str,
    production_path: str | None = None,
    template: Template | None = None,
    negative_prompt: str | None = None,
    size_preset: str | None = None,
    width: int | None = None,
    height: int | None = None,
    num_images: int = 1,
    seed: int | None = None,
    steps: int | None = None,
    guidance: float | None = None,
    image_type: str = ImageType.GENERAL,
) -> GenerationJob:
    """Validate, persist and enqueue a job; returns at once. A dead broker leaves it queued for the sweeper.

    The job's input is resolved once, here: template defaults, then path defaults, then the user's allowed
    overrides, all checked, into the one `JobInput` the job row stores and the worker reads back.
    """
    path = _job_path(production_path, template)
    config = template.config if template else {}
    if size_preset is not None:
        width = height = None
    if template is not None:
        overrides = {"width": width, "height": height, "steps": steps, "guidance": guidance, "seed": seed}
        _check_template_allows(template, {**overrides, "negative_prompt": negative_prompt or None}, size_preset)
    model = get_model(config.get("model", DEFAULT_MODEL))
    if size_preset is not None:
        if size_preset not in SIZE_PRESETS:
            raise ValidationError({"size_preset": f"Choose one of: {', '.join(SIZE_PRESETS)}."})
        width, height = SIZE_PRESETS[size_preset]
    default_width, default_height = (config["width"], config["height"]) if "width" in config else path.default_size
    width = _int_in(default_width if width is None else width, "width", model.min_side, model.max_side)
    height = _int_in(default_height if height is None else height, "height", model.min_side, model.max_side)
    steps = _int_in(config.get("steps", model.default_steps) if steps is None else steps, "steps", 1, model.max_steps)
    guidance = config.get("cfg_scale", model.default_guidance) if guidance is None else guidance
    if isinstance(guidance, bool) or not isinstance(guidance, int | float):
        raise ValidationError({"guidance": "Must be a number."})
    if not 0 <= guidance <= model.max_guidance:
        raise ValidationError({"guidance": f"Must be between 0 and {model.max_guidance} for {model.label}."})
    max_images = template.max_images if template else MAX_IMAGES_PER_JOB
    num_images = _int_in(num_images, "num_images", 1, min(max_images, MAX_IMAGES_PER_JOB))
    seed = random.SystemRandom().randint(0, MAX_SEED) if seed is None else _int_in(seed, "seed", 0, MAX_SEED)
    if template is not None:
        template.check_bounds(width=width, height=height, steps=steps, guidance=guidance, num_images=num_images)
    job_input = JobInput(
        production_path=path.name,
        prompt=clean_prompt(prompt),
        negative_prompt=clean_prompt(negative_prompt, field="negative_prompt", required=False),
        model=model.name,
        scheduler=config.get("scheduler", model.schedulers[0]),
        steps=steps,
        guidance=float(guidance),
        width=width,
        height=height,
        num_images=num_images,
        seed=seed,
        workflow=path.build_pipeline(config.get("pipeline", [])),
        credit_cost=(template.credit_cost if template else 1) * num_images,
    )
    with transaction.atomic():
        job = GenerationJob.objects.create(
            owner=user,
            template=template,
            image_type=image_type,
            **job_input.as_fields(),
            progress_total=job_input.steps * job_input.num_images,
            # Written now, as if the send after commit succeeded (it nearly always does): one UPDATE fewer.
            celery_task_id=str(uuid.uuid4()),
            dispatched_at=timezone.now(),
        )
        # Plan limits + credit reservation; raising rolls the job back with it.
        admit_job(user=user, job=job)
        transaction.on_commit(lambda: _send_new_job(job))
    if monitoring.watches_job_list(user.pk):  # else nobody hears it, and publishing costs a submit a third more
        events.publish(job, "job.queued", new_job=True, estimated_seconds=estimate_seconds(job))
    return job


def estimate_seconds(job: GenerationJob) -> float:
    spec = MODELS[job.model]
    scale = (job.width * job.height) / (1024 * 1024)
    return round(spec.seconds_per_step_estimate * job.steps * job.num_images * max(scale, 0.25) + 1.0, 1)


def dispatch_job(job: GenerationJob, *, countdown: float | None = None) -> bool:
    """Hand the job to its path's queue under a new task id. Never raises: a job that is not sent stays queued."""
    task_id = str(uuid.uuid4())
    if not _send(job, task_id, countdown):
        return False
    now = timezone.now()
    GenerationJob.objects.filter(pk=job.pk).update(celery_task_id=task_id, dispatched_at=now)
    job.celery_task_id, job.dispatched_at = task_id, now
    return True


def _send_new_job(job: GenerationJob) -> None:
    """The first send of a job created with its task id and send time already set; undone if the send fails."""
    if not _send(job, job.celery_task_id, None):
        GenerationJob.objects.filter(pk=job.pk).update(celery_task_id="", dispatched_at=None)
        job.celery_task_id, job.dispatched_at = "", None


def _send(job: GenerationJob, task_id: str, countdown: float | None) -> bool:
    from .tasks import run_generation_job

    queue = get_path(job.production_path).queue
    try:
        run_generation_job.apply_async(
            args=(job.pk, str(job.dispatch_token)),
            task_id=task_id,
            queue=queue,
            countdown=countdown,  # type: ignore[arg-type]  # None is no delay to celery; celery-types says float
            retry=False,
        )
    except Exception as error:  # kombu.OperationalError, redis errors, timeouts: broker unreachable
        logger.warning(
            "broker unreachable, job left queued for the sweeper",
            extra={"job_id": job.pk, "path": job.production_path, "error": str(error) or type(error).__name__},
        )
        return False
    return True


# --- cancel ----------------------------------------------------------------------------------


def cancel_job(*, job: GenerationJob) -> GenerationJob:
    """Queued: never runs. Running: the worker stops at its next step. Final: nothing to do."""
    for _ in range(3):  # the status may move under us (queued -> running); try again on the new one
        job.refresh_from_db()
        if job.is_final:
            return job
        if job.transition(JobStatus.CANCELED):
            if job.celery_task_id:
                _revoke(job.celery_task_id)
            events.publish(job, "job.canceled", images_done=job.images.count())
            settle_job_credits(job=job)
            return job
    return job


# --- staff: retry, re-dispatch -----------------------------------------------------------------


def retry_job(*, job: GenerationJob) -> GenerationJob:
    """Run a failed job again as a new job with the same inputs, reserving its credits again through submit_job.

    At most once per failed job: a second call (a double-submitted admin action) returns the job the first made.
    Raises ValidationError when the job is not failed or can no longer be submitted (retired template, suspended
    owner), and InsufficientCredits / TooManyJobs as submit_job does.
    """
    with transaction.atomic():
        locked = GenerationJob.objects.select_for_update(of=("self",)).select_related("owner", "template")
        original = locked.get(pk=job.pk)
        existing = GenerationJob.objects.filter(retry_of=original).first()
        if existing is not None:
            return existing
        if original.status != JobStatus.FAILED:
            raise ValidationError(f"Only a failed job can be retried; job {original.pk} is {original.status}.")
        if not original.owner.is_active:
            raise ValidationError(f"Job {original.pk} belongs to a suspended account.")
        overrides: dict[str, Any] = {
            "negative_prompt": original.negative_prompt or None,
            "width": original.width,
            "height": original.height,
            "steps": original.steps,
            "guidance": original.guidance,
            "seed": original.seed,
        }
        if original.template is not None:  # what the template fixes comes from the template again
            overrides = {name: value for name, value in overrides.items() if name in original.template.overridable}
        retry = submit_job(
            user=original.owner,
            prompt=original.prompt,
            production_path=original.production_path,
            template=original.template,
            num_images=original.num_images,
            image_type=original.image_type,
            **overrides,
        )
        GenerationJob.objects.filter(pk=retry.pk).update(retry_of=original)
        retry.retry_of = original
    logger.info("failed job retried as job %s", retry.pk, extra={"job_id": original.pk, "user_id": original.owner_id})
    return retry


def redispatch_job(*, job: GenerationJob) -> bool:
    """Send a queued job again under a new dispatch token, so a message still waiting somewhere is stale.

    False when the job is no longer queued (a worker took it meanwhile) or the broker is unreachable.
    """
    token = uuid.uuid4()
    if not GenerationJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(dispatch_token=token):
        return False
    job.refresh_from_db()
    return dispatch_job(job)


def _revoke(task_id: str) -> None:
    from celery import current_app as app  # the zimage Celery app, without importing the wiring package

    try:
        app.control.revoke(task_id)
    except Exception:
        # Best effort only: the task re-checks the job's status before running anyway.
        logger.info("could not broadcast revoke", extra={"task_id": task_id})
