"""Writes for generation jobs: submit, dispatch, cancel, and the worker-side run with its retries."""

from __future__ import annotations

import logging
import os
import random
import socket
import time
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.selectors import limits_for
from accounts.services import admit_job, settle_job_credits
from gallery.models import ImageType

from . import events
from .engine.models_catalog import MAX_IMAGES_PER_JOB, MAX_PROMPT_LENGTH, MODELS, SIZE_PRESETS, get_model
from .engine.paths import JobInput, get_path, resolve_path
from .engine.workflow import WorkflowContext, run_pipeline
from .joblog import job_log_context
from .models import GenerationJob, JobStatus
from .ops import monitoring

if TYPE_CHECKING:
    from accounts.models import User
    from templates_app.models import Template

logger = logging.getLogger(__name__)

MAX_SEED = 2**32 - 1


class JobInterrupted(Exception):
    """The job stopped being ours mid-run: canceled, or taken back after a missed heartbeat."""


class ClaimHeldByLiveWorker(Exception):
    """A duplicate delivery while the first is still running: try again later, never run twice."""


class OwnerAtRunningLimit(Exception):
    """The owner's plan runs this many jobs at once already: leave the GPU to others, try again soon."""


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# --- submit ----------------------------------------------------------------------------------


def _clean_text(value: str | None, field: str, *, required: bool, limit: int = MAX_PROMPT_LENGTH) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({field: "This field is required."})
    if len(value) > limit:
        raise ValidationError({field: f"At most {limit} characters (got {len(value)})."})
    if "\x00" in value:
        raise ValidationError({field: "Must not contain NUL characters."})
    return value


def _int_in(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({field: "Must be a whole number."})
    if not low <= value <= high:
        raise ValidationError({field: f"Must be between {low} and {high}."})
    return value


def build_job_input(
    *,
    path_name: str,
    template: Template | None,
    prompt: str,
    negative_prompt: str | None = None,
    size_preset: str | None = None,
    width: int | None = None,
    height: int | None = None,
    num_images: int = 1,
    seed: int | None = None,
    steps: int | None = None,
    guidance: float | None = None,
) -> JobInput:
    """Template defaults, then path defaults, then the user's allowed overrides, all checked."""
    path = get_path(path_name)
    config = template.config if template else {}
    overrides = {
        "width": width if size_preset is None else None,
        "height": height if size_preset is None else None,
        "steps": steps,
        "guidance": guidance,
        "seed": seed,
        "negative_prompt": negative_prompt or None,
    }
    if template is not None:
        if not template.is_active:
            raise ValidationError({"template": "This template is not available."})
        allowed = set(template.overridable)
        for name, value in overrides.items():
            if value is not None and name not in allowed:
                raise ValidationError({name: f"The template {template.name!r} does not let you change this."})
        if size_preset is not None and not {"width", "height"} <= allowed:
            raise ValidationError({"size_preset": f"The template {template.name!r} has a fixed size."})
    model = get_model(config.get("model", "Tongyi-MAI/Z-Image-Turbo"))
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
    template_pipeline = config.get("pipeline", [])
    job_input = JobInput(
        prompt=_clean_text(prompt, "prompt", required=True),
        negative_prompt=_clean_text(negative_prompt, "negative_prompt", required=False),
        model=model.name,
        scheduler=config.get("scheduler", model.schedulers[0]),
        steps=steps,
        guidance=float(guidance),
        width=width,
        height=height,
        num_images=num_images,
        seed=seed,
        pipeline=path.build_pipeline(template_pipeline),
        credit_cost_per_image=template.credit_cost if template else 1,
    )
    path.validate(job_input)
    return job_input


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
    unknown_path_policy: str | None = None,
    image_type: str = ImageType.GENERAL,
) -> GenerationJob:
    """Validate, persist and enqueue a job; returns at once. A dead broker leaves it queued for the sweeper."""
    if template is not None and production_path and production_path != template.production_path:
        raise ValidationError({"production_path": f"The template belongs to the {template.production_path} path."})
    path = resolve_path(production_path or (template.production_path if template else None), unknown_path_policy)
    job_input = build_job_input(
        path_name=path.name,
        template=template,
        prompt=prompt,
        negative_prompt=negative_prompt,
        size_preset=size_preset,
        width=width,
        height=height,
        num_images=num_images,
        seed=seed,
        steps=steps,
        guidance=guidance,
    )
    with transaction.atomic():
        job = GenerationJob.objects.create(
            owner=user,
            template=template,
            production_path=path.name,
            image_type=image_type,
            prompt=job_input.prompt,
            negative_prompt=job_input.negative_prompt,
            model=job_input.model,
            scheduler=job_input.scheduler,
            steps=job_input.steps,
            guidance=job_input.guidance,
            width=job_input.width,
            height=job_input.height,
            num_images=job_input.num_images,
            seed=job_input.seed,
            workflow=job_input.pipeline,
            credit_cost=path.credit_cost(job_input),
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
            args=(job.pk, str(job.dispatch_token)), task_id=task_id, queue=queue, countdown=countdown, retry=False
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
            on_job_finished(job)
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
        original = GenerationJob.objects.select_for_update(of=("self",)).select_related("owner", "template")
        original = original.get(pk=job.pk)
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
    from zimage.celery import app

    try:
        app.control.revoke(task_id)
    except Exception:
        # Best effort only: the task re-checks the job's status before running anyway.
        logger.info("could not broadcast revoke", extra={"task_id": task_id})


def on_job_finished(job: GenerationJob) -> None:
    """Settle what the job reserved: charge the images produced, release the rest (exactly once)."""
    settle_job_credits(job=job)


# --- run (worker side) -----------------------------------------------------------------------


class ProgressReporter:
    """Per-step callback: records progress + heartbeat (and notices cancellation), publishes events."""

    def __init__(self, job: GenerationJob, worker_id: str, publish_interval: float = 0.1):
        self.job = job
        self.worker_id = worker_id
        self.publish_interval = publish_interval
        self.started = time.monotonic()
        self.last_publish = 0.0
        self.last_preview_step = 0
        self.stored: dict[int, Any] = {}  # index -> image stored by this run

    def on_step(self, step: int, total: int, latents: Any) -> None:
        # One conditional UPDATE per step is the heartbeat, the progress and the cancel check.
        still_ours = GenerationJob.objects.filter(
            pk=self.job.pk, status=JobStatus.RUNNING, worker_id=self.worker_id
        ).update(progress_step=step, progress_total=total, heartbeat_at=timezone.now())
        if not still_ours:
            raise JobInterrupted
        now = time.monotonic()
        if step == total or now - self.last_publish >= self.publish_interval:
            self.last_publish = now
            elapsed = now - self.started
            eta = elapsed / step * (total - step) if step else None
            preview = self._preview(step, latents)
            events.publish(
                self.job,
                "job.progress",
                step=step,
                total=total,
                percent=round(100 * step / total),
                eta_seconds=eta and round(eta, 2),
                **({"preview": preview} if preview else {}),
            )

    def _preview(self, step: int, latents: Any) -> str | None:
        """Drawn only for a progress event that is sent, and at most every WS_PREVIEW_EVERY_STEPS steps."""
        every = settings.WS_PREVIEW_EVERY_STEPS
        if not every or latents is None or step - self.last_preview_step < every:
            return None
        from .engine.latent_previews import preview_from_latents

        self.last_preview_step = step
        return preview_from_latents(latents)

    def on_image(self, image: Any) -> None:
        self.stored[image.index] = image
        GenerationJob.objects.filter(pk=self.job.pk).update(images_done=F("images_done") + 1)
        events.publish(self.job, "job.image", image=image_event_payload(image))


def image_event_payload(image: Any) -> dict[str, Any]:
    from gallery.selectors import image_urls

    return {
        "id": str(image.uuid),
        "index": image.index,
        "width": image.width,
        "height": image.height,
        "seed": image.seed,
        **image_urls(image),
    }


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    ConnectionError,
    TimeoutError,
)


def claimer_is_dead(job: GenerationJob) -> bool:
    """Whether the worker that claimed this job is gone: a local pid that no longer exists, or no heartbeat."""
    host, _, pid = job.worker_id.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
    stale_before = timezone.now() - timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT)
    return job.heartbeat_at is None or job.heartbeat_at < stale_before


def execute_job(*, job_id: int, dispatch_token: str, worker_id: str | None = None) -> str:
    """Run one delivery of a job. Returns what happened; safe to call for every (re)delivery."""
    worker_id = worker_id or worker_identity()
    job = GenerationJob.objects.select_related("owner").filter(pk=job_id).first()
    if job is None:
        return "missing"
    with job_log_context(job):
        if str(job.dispatch_token) != dispatch_token:
            logger.info("stale delivery skipped")
            return "stale"
        if job.status == JobStatus.RUNNING:
            if not claimer_is_dead(job):
                raise ClaimHeldByLiveWorker(job.worker_id)
            # The worker that held it died (SIGKILL, OOM): count a retry and take it back.
            if not _requeue_or_fail(job, "The worker running this job died.", redispatch=False):
                return "failed"
        if job.status != JobStatus.QUEUED:
            logger.info("job is %s, not run again", job.status)
            return "skipped"
        if job.deliveries >= settings.JOB_MAX_DELIVERIES:
            fail_job(job, f"Gave up after {job.deliveries} deliveries to workers.")
            return "failed"
        running_limit = limits_for(job.owner).max_running_jobs
        if GenerationJob.objects.filter(owner_id=job.owner_id, status=JobStatus.RUNNING).count() >= running_limit:
            raise OwnerAtRunningLimit(running_limit)
        try:
            path = get_path(job.production_path)
        except KeyError:
            fail_job(job, f"Production path {job.production_path!r} is not supported by this worker.")
            return "failed"
        try:
            path.validate_for_run(job)
        except ValidationError as error:
            fail_job(job, "; ".join(error.messages))
            return "failed"
        if not job.transition(
            JobStatus.RUNNING,
            worker_id=worker_id,
            heartbeat_at=timezone.now(),
            deliveries=job.deliveries + 1,  # claims are serialised by the status condition
            progress_step=0,
        ):
            return "lost-race"
        logger.info("job started on %s (delivery %s)", worker_id, job.deliveries)
        events.publish(job, "job.started", total=job.progress_total)
        return _run_claimed(job, worker_id)


def _run_claimed(job: GenerationJob, worker_id: str) -> str:
    from celery.exceptions import SoftTimeLimitExceeded

    reporter = ProgressReporter(job, worker_id)
    context = WorkflowContext(
        job=job,
        prompt=job.prompt,
        negative_prompt=job.negative_prompt,
        model=job.model,
        scheduler=job.scheduler,
        steps=job.steps,
        guidance=job.guidance,
        width=job.width,
        height=job.height,
        seed=job.seed,
        num_images=job.num_images,
        on_step=reporter.on_step,
        on_image=reporter.on_image,
        # Only a job claimed before can have stored images already: skip the query on a first delivery.
        done_indexes=set(job.images.values_list("index", flat=True)) if job.deliveries > 1 else set(),
    )
    try:
        run_pipeline(job.workflow, context)
    except JobInterrupted:
        logger.info("job stopped: no longer running on this worker")
        return "interrupted"
    except SoftTimeLimitExceeded:
        fail_job(job, f"Timed out after {settings.JOB_SOFT_TIME_LIMIT} s.")
        return "failed"
    except TRANSIENT_ERRORS as error:
        connection.close()  # a broken connection is replaced on the next query
        logger.warning("transient error, will retry", exc_info=True)
        _requeue_or_fail(job, f"{type(error).__name__}: {error}", redispatch=True)
        return "retrying"
    except Exception as error:
        logger.exception("job failed")
        fail_job(job, f"{type(error).__name__}: {error}")
        return "failed"
    finished = job.transition(
        JobStatus.SUCCEEDED,
        enhanced_prompt=context.prompt,
        progress_step=job.progress_total,
        images_done=job.num_images,
        last_error="",
    )
    if finished:
        logger.info("job succeeded: %s image(s)", job.num_images)
        # Usually every image was stored by this run; after a retry, some were stored by an earlier one.
        images = reporter.stored
        if len(images) < job.num_images:
            images = {image.index: image for image in job.images.all()}
        events.publish(job, "job.succeeded", images=[image_event_payload(images[index]) for index in sorted(images)])
        on_job_finished(job)
        return "succeeded"
    return "interrupted"


def retry_backoff(retry_count: int) -> float:
    """About 5 s, 10 s, 20 s, with +-20 % jitter so a burst of failures does not return in lockstep."""
    base = settings.JOB_RETRY_BACKOFF_BASE * 2 ** max(0, retry_count - 1)
    return base * random.uniform(0.8, 1.2)  # noqa: S311 (jitter, not security)


def _requeue_or_fail(job: GenerationJob, error: str, *, redispatch: bool) -> bool:
    """Back to queued with a new dispatch token (old messages become stale), or failed past the cap."""
    job.refresh_from_db()
    if job.status != JobStatus.RUNNING:
        return False
    if job.retry_count >= settings.JOB_MAX_RETRIES:
        fail_job(job, f"{error} (gave up after {job.retry_count} retries)")
        return False
    requeued = job.transition(
        JobStatus.QUEUED,
        retry_count=job.retry_count + 1,
        last_error=error,
        dispatch_token=uuid.uuid4(),
        worker_id="",
        heartbeat_at=None,
        dispatched_at=None,
    )
    if requeued:
        events.publish(job, "job.queued", retry_count=job.retry_count, error=error)
        if redispatch:
            dispatch_job(job, countdown=retry_backoff(job.retry_count))
    return requeued


def fail_job(job: GenerationJob, message: str) -> bool:
    job.refresh_from_db()
    if job.is_final or not job.transition(JobStatus.FAILED, last_error=message[:2000]):
        return False
    logger.error("job failed: %s", message)
    events.publish(job, "job.failed", error=message)
    on_job_finished(job)
    return True


# --- sweepers (beat) -------------------------------------------------------------------------


def redispatch_queued_jobs(*, older_than: float | None = None, limit: int = 500) -> int:
    """Send again jobs that are queued but were never sent, or were sent long ago (a lost message)."""
    cutoff = timezone.now() - timedelta(seconds=settings.JOB_REDISPATCH_AFTER if older_than is None else older_than)
    stuck = (
        GenerationJob.objects.filter(status=JobStatus.QUEUED, created_at__lte=cutoff)
        .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lte=cutoff))
        .order_by("created_at")[:limit]
    )
    return sum(dispatch_job(job) for job in stuck)


def reap_stale_jobs(*, limit: int = 500) -> int:
    """Jobs `running` whose worker stopped heart-beating: retry them, or fail them past the cap."""
    stale_before = timezone.now() - timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT)
    reaped = 0
    for job in GenerationJob.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=stale_before)[:limit]:
        with job_log_context(job):
            logger.warning("no heartbeat from %s, taking the job back", job.worker_id)
            reaped += _requeue_or_fail(job, f"Worker {job.worker_id} stopped responding.", redispatch=True)
    return reaped


def fail_overrunning_jobs(*, limit: int = 500) -> int:
    """Jobs `running` for over twice the hard time limit, heart-beating or not (a wedged step never ends):
    failed, and their unproduced images' credits released. A rerun finds nothing left to do."""
    started_before = timezone.now() - timedelta(seconds=2 * settings.JOB_TIME_LIMIT)
    overrunning = GenerationJob.objects.filter(status=JobStatus.RUNNING, started_at__lt=started_before)
    message = f"Still running {2 * settings.JOB_TIME_LIMIT} s after it started, past the hard time limit."
    failed = 0
    for job in overrunning.order_by("started_at")[:limit]:
        with job_log_context(job):
            failed += fail_job(job, message)
    return failed
