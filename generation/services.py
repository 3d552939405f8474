"""Writes for generation jobs: submit, dispatch, cancel, retry and re-dispatch. The worker side is runner.py."""

from __future__ import annotations

import logging
import random
import uuid
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.selectors import tier_limits
from brands.services import brand_kit_for_job, job_apply_logo, job_styles, with_brand
from core.request_id import current_request_id, new_request_id
from gallery.models import GeneratedImage, ImageType, SourceImage
from gallery.selectors import find_source, source_images_for
from gallery.services import delete_stored, store_mask_data_url
from webhooks.services import job_webhook_attach, job_webhook_clean

from . import events, scheduling
from .credits import admit_job, job_price, settle_job_credits
from .engine.diffusion import ip_adapter
from .engine.image_ops import denoising_steps
from .engine.job_input import JobInput, JobMode, clean_prompt
from .engine.models_catalog import (
    DEFAULT_MODEL,
    MAX_IMAGES_PER_JOB,
    MODEL_ALIASES,
    MODELS,
    SIZE_PRESETS,
    ModelSpec,
    get_model,
    model_for_name,
)
from .engine.paths import PathSpec, get_path, resolve_path
from .engine.template_inputs import input_fragments, resolve_inputs, with_input_fragments
from .engine.workflow import pipeline_requires_source, template_outpaint_anchor
from .image_input import SourceNotFound, output_size, resolve_image_input
from .models import GenerationJob, JobStatus, ReferenceMethod
from .ops import monitoring

if TYPE_CHECKING:
    from accounts.models import User
    from brands.models import BrandKit
    from templates_app.models import Template

logger = logging.getLogger(__name__)

MAX_SEED = 2**32 - 1


# --- submit ----------------------------------------------------------------------------------


def _int_in(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({field: _("Must be a whole number.")})
    if not low <= value <= high:
        raise ValidationError({field: _("Must be between %(low)s and %(high)s.") % {"low": low, "high": high}})
    return value


def _job_path(production_path: str | None, template: Template | None) -> PathSpec:
    if template is None:
        return resolve_path(production_path)
    if production_path and production_path != template.production_path:
        raise ValidationError(
            {"production_path": _("The template belongs to the %(path)s path.") % {"path": template.production_path}}
        )
    return get_path(template.production_path)


def _check_template_allows(template: Template, overrides: dict[str, Any], size_preset: str | None) -> None:
    if not template.is_active:
        raise ValidationError({"template": _("This template is not available.")})
    allowed = set(template.overridable)
    for name, value in overrides.items():
        if value is not None and name not in allowed:
            raise ValidationError(
                {name: _("The template %(name)r does not let you change this.") % {"name": template.name}}
            )
    if size_preset is not None and not {"width", "height"} <= allowed:
        raise ValidationError({"size_preset": _("The template %(name)r has a fixed size.") % {"name": template.name}})


def job_model(*, template: Template | None, model_name: str | None = None) -> ModelSpec:
    """The template's model, else the one the request names (short or full name), else the default.

    A template fixes its model: naming another with it is refused on `model`, naming the same one is fine.
    """
    asked = None
    if model_name:
        asked = model_for_name(model_name)
        if asked is None:
            names = ", ".join((*MODEL_ALIASES, *MODELS))
            raise ValidationError({"model": _("Unknown model; choose one of: %(names)s.") % {"names": names}})
    if template is None:
        return asked or MODELS[DEFAULT_MODEL]
    fixed = get_model(template.config.get("model", DEFAULT_MODEL))
    if asked is not None and asked.name != fixed.name:
        raise ValidationError(
            {
                "model": _("The template %(template)s draws with %(model)s: leave model out or name that one.")
                % {"template": template.name, "model": fixed.label}
            }
        )
    return fixed


def job_size(
    *,
    mode: str,
    model: ModelSpec,
    default: tuple[int, int],
    dictated: tuple[int, int] | None,
    size_preset: str | None,
    width: int | None,
    height: int | None,
    canvas_fixed: bool,
) -> tuple[int, int]:
    """The job's output size, one precedence for the submit and the website's estimate: an inpaint keeps its
    source's (fitted) size and an upscale multiplies it; otherwise the preset or size asked for, else the source's
    (image-to-image), else `default` (the template's or the path's). An outpaint needs a size unless the template
    fixes its canvas (`canvas_fixed`)."""
    if size_preset is not None:
        if size_preset not in SIZE_PRESETS:
            raise ValidationError(
                {"size_preset": _("Choose one of: %(allowed)s.") % {"allowed": ", ".join(SIZE_PRESETS)}}
            )
        width, height = SIZE_PRESETS[size_preset]
    if dictated is not None and mode in (JobMode.INPAINT, JobMode.UPSCALE):
        if width is not None or height is not None:
            field = "size_preset" if size_preset is not None else "width" if width is not None else "height"
            raise ValidationError({field: _("This job's size follows its source image: leave the size out.")})
        if mode == JobMode.UPSCALE:  # exactly factor x the source, past max_side
            return dictated
        width, height = dictated
    elif dictated is not None and width is None and height is None:
        default = dictated
    elif mode == JobMode.OUTPAINT and width is None and height is None and not canvas_fixed:
        raise ValidationError({"outpaint": _("Give the size to extend to: a size_preset, or width and height.")})
    return (
        _int_in(default[0] if width is None else width, "width", model.min_side, model.max_side),
        _int_in(default[1] if height is None else height, "height", model.min_side, model.max_side),
    )


def submit_job(
    *,
    user: User,
    prompt: str,
    production_path: str | None = None,
    template: Template | None = None,
    model_name: str | None = None,
    inputs: dict[str, Any] | None = None,
    negative_prompt: str | None = None,
    size_preset: str | None = None,
    width: int | None = None,
    height: int | None = None,
    num_images: int = 1,
    seed: int | None = None,
    steps: int | None = None,
    guidance: float | None = None,
    image_type: str = ImageType.GENERAL,
    source_image: SourceImage | GeneratedImage | None = None,
    mask: SourceImage | None = None,
    strength: float | None = None,
    outpaint_anchor: str | None = None,
    upscale_factor: int | None = None,
    webhook_url: str | None = None,
    webhook_events: list[str] | None = None,
    max_queued: int | None = None,  # a batch's own waiting-jobs limit (generation.credits.admit_job)
    reference: bool = False,
    styles: list[dict[str, Any]] | None = None,
    story_styles: list[dict[str, Any]] | None = None,
    brand_kit: BrandKit | None = None,
    apply_logo: bool | None = None,
) -> GenerationJob:
    """Validate, persist and enqueue a job; returns at once. A dead broker leaves it queued for the sweeper.

    The job's input is resolved once, here: template defaults, then path defaults, then the user's allowed
    overrides, all checked, into the one `JobInput` the job row stores and the worker reads back. A source image
    (one of the user's uploads or gallery images, already looked up as theirs) makes it an image-to-image,
    inpaint (with `mask`), outpaint (with `outpaint_anchor`) or upscale (with `upscale_factor`) job. With
    `reference` the source is a scene character's reference image: it conditions the job through SDXL's IP-Adapter
    where its weights are installed for the job's model, else image-to-image (recorded in reference_method).
    Brand styles (brands.services.job_styles): the job's own `styles`, else the template's, else the story's
    (`story_styles`), else the brand kit's defaults, snapshotted on the job; their trigger words and the kit's
    prompt fragments go into the workflow's prompt_enhancement (brands.services.with_brand).
    """
    webhook = job_webhook_clean(url=webhook_url, events=webhook_events)  # before any write: DNS is slow
    path = _job_path(production_path, template)
    config = template.config if template else {}
    limits = tier_limits(user.tier)
    if source_image is not None and all(value is None for value in (outpaint_anchor, mask, strength, upscale_factor)):
        # A template that extends the image to its own canvas; a strength or mask asks for a redraw instead (Vary).
        outpaint_anchor = template_outpaint_anchor(config)
    image_input = resolve_image_input(
        source=source_image,
        mask=mask,
        strength=strength,
        outpaint_anchor=outpaint_anchor,
        upscale_factor=upscale_factor,
        limits=limits,
    )
    requires_source = template is not None and pipeline_requires_source(config.get("pipeline", []))
    if requires_source and image_input.source is None:
        raise ValidationError({"source_image": _("This template starts from your image: give a source_image.")})
    if size_preset is not None:
        width = height = None
    if template is not None:
        overrides = {"width": width, "height": height, "steps": steps, "guidance": guidance, "seed": seed}
        _check_template_allows(template, {**overrides, "negative_prompt": negative_prompt or None}, size_preset)
    model = job_model(template=template, model_name=model_name)
    resolved_inputs = resolve_inputs(config.get("inputs", {}), inputs)
    width, height = job_size(
        mode=image_input.mode,
        model=model,
        default=(config["width"], config["height"]) if "width" in config else path.default_size,
        dictated=output_size(image_input, model=model, max_side=limits.max_side),
        size_preset=size_preset,
        width=width,
        height=height,
        canvas_fixed="width" in config,
    )
    if image_input.mode == JobMode.UPSCALE and num_images != 1:
        raise ValidationError({"num_images": _("An upscale makes one image.")})
    steps = _int_in(config.get("steps", model.default_steps) if steps is None else steps, "steps", 1, model.max_steps)
    guidance = config.get("cfg_scale", model.default_guidance) if guidance is None else guidance
    if isinstance(guidance, bool) or not isinstance(guidance, int | float):
        raise ValidationError({"guidance": _("Must be a number.")})
    if not 0 <= guidance <= model.max_guidance:
        raise ValidationError(
            {
                "guidance": _("Must be between %(low)s and %(high)s for %(label)s.")
                % {"low": 0, "high": model.max_guidance, "label": model.label}
            }
        )
    max_images = template.max_images if template else MAX_IMAGES_PER_JOB
    num_images = _int_in(num_images, "num_images", 1, min(max_images, MAX_IMAGES_PER_JOB))
    seed = random.SystemRandom().randint(0, MAX_SEED) if seed is None else _int_in(seed, "seed", 0, MAX_SEED)
    if template is not None:
        template.check_bounds(width=width, height=height, steps=steps, guidance=guidance, num_images=num_images)
    used_styles = job_styles(
        owner=user,
        base_model=model.name,
        styles=styles,
        template_styles=template.styles if template is not None else None,
        story_styles=story_styles,
        kit=brand_kit,
    )
    apply_logo = job_apply_logo(kit=brand_kit, apply_logo=apply_logo)
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
        workflow=with_brand(
            with_input_fragments(
                path.build_pipeline(config.get("pipeline", []), mode=image_input.mode), input_fragments(resolved_inputs)
            ),
            styles=used_styles,
            kit=brand_kit,
        ),
        credit_cost=job_price(
            mode=image_input.mode,
            per_image=template.credit_cost if template else 1,
            num_images=num_images,
            width=width,
            height=height,
        ),
        mode=image_input.mode,
        source_key=str(image_input.source.file.name) if image_input.source is not None else "",
        mask_key=str(image_input.mask.file.name) if image_input.mask is not None else "",
        strength=image_input.strength,
        outpaint_anchor=image_input.outpaint_anchor,
        upscale_factor=image_input.upscale_factor,
        reference_method=_reference_method(model.name) if reference and image_input.mode == JobMode.IMAGE else "",
    )
    with transaction.atomic():
        job = GenerationJob.objects.create(
            owner=user,
            template=template,
            image_type=image_type,
            **job_input.as_fields(),
            source_upload=image_input.source_upload,
            source_image=image_input.source_image,
            mask=image_input.mask,
            inputs=resolved_inputs,  # the values and the fragments they added: a later revision changes neither
            progress_total=denoising_steps(job_input),
            # The submitting request's id (a job made outside a request gets its own): on the worker's log lines
            # for the job and on its webhook deliveries.
            request_id=current_request_id() or new_request_id(),
            # Written now, as if the send after commit succeeded (it nearly always does): one UPDATE fewer.
            celery_task_id=str(uuid.uuid4()),
            dispatched_at=timezone.now(),
            styles=used_styles,
            brand_kit=brand_kit,
            apply_logo=apply_logo,
        )
        # Plan limits + credit reservation; raising rolls the job back with it.
        admit_job(user=user, job=job, max_queued=max_queued)
        if webhook is not None:
            job_webhook_attach(job=job, webhook=webhook)
        # Announced before it is sent (callbacks run in order): the worker's first event is numbered after it.
        transaction.on_commit(lambda: _announce_new_job(job))
        transaction.on_commit(lambda: _send_new_job(job))
    return job


def _announce_new_job(job: GenerationJob) -> None:
    """`job.queued` to the owner's job lists, numbered here (not on the publisher thread) so that no event of the
    worker's can take a lower number; skipped when nobody has one open (it costs a submit a third more).

    The standing read for it is kept on the job as `standing_at_submit`, and the 202's body says the same (api.
    JobSerializer) instead of reading the queue again: two queries fewer, and read before the broker's send, so a
    worker that claims the job at once cannot race the body's reading."""
    if monitoring.watches_job_list(job.owner_id):
        job.standing_at_submit = scheduling.standing(job)
        events.publish(
            job,
            "job.queued",
            new_job=True,
            number_now=True,
            estimated_seconds=estimate_seconds(job),
            **events.standing_fields(job.standing_at_submit),
        )


def _reference_method(model: str) -> str:
    """Decided at submit, so the job says which it is; the worker fails clearly if the adapter's files vanished."""
    return ReferenceMethod.IP_ADAPTER if ip_adapter.installed(model) else ReferenceMethod.IMAGE_TO_IMAGE


def submit_job_request(
    *,
    user: User,
    source_image: uuid.UUID | None = None,
    mask: uuid.UUID | str | None = None,
    outpaint: dict[str, Any] | None = None,
    brand_kit: int | None = None,
    **fields: Any,
) -> GenerationJob:
    """A job as the API and the website ask for it: image ids resolved to the user's own (another user's is a 404),
    a painted mask (PNG data URL) stored with the job, the outpaint target unpacked; all or nothing."""
    fields["brand_kit"] = brand_kit_for_job(user=user, kit_id=brand_kit)
    source = None
    if source_image is not None:
        source = find_source(user, source_image)
        if source is None:
            raise SourceNotFound("source_image")
    if outpaint is not None:
        fields.update(_outpaint_fields(outpaint, fields))
    if not isinstance(mask, str):  # nothing written before the job: submit_job's transaction is the only one
        mask_image = None
        if mask is not None:
            mask_image = source_images_for(user).filter(uuid=mask).first()
            if mask_image is None:
                raise SourceNotFound("mask")
        return submit_job(user=user, source_image=source, mask=mask_image, **fields)
    stored_mask: SourceImage | None = None
    try:
        with transaction.atomic():  # the painted mask's row and the job: both or neither
            stored_mask = store_mask_data_url(owner=user, data_url=mask)
            return submit_job(user=user, source_image=source, mask=stored_mask, **fields)
    except BaseException:
        if stored_mask is not None:  # its row went with the transaction; its file goes now
            delete_stored(str(stored_mask.file.name))
        raise


def _outpaint_fields(outpaint: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """`outpaint: {"anchor", "size_preset" | "width"/"height"}` as submit_job's arguments."""
    target = {name: outpaint[name] for name in ("size_preset", "width", "height") if outpaint.get(name) is not None}
    clash = next((name for name in ("size_preset", "width", "height") if fields.get(name) is not None), None)
    if target and clash:
        raise ValidationError({clash: _("Give the size inside outpaint, not both.")})
    return {**target, "outpaint_anchor": outpaint.get("anchor") or "center"}


VARIATION_STRENGTHS = {"subtle": 0.35, "strong": 0.7}


def _from_image(image: GeneratedImage) -> dict[str, Any]:
    """What a job made from a gallery image keeps of the job that drew it: its prompt, path and template."""
    job = image.job
    template = job.template if job.template is not None and job.template.is_active else None
    return {
        "prompt": job.prompt,
        "negative_prompt": job.negative_prompt or None if template is None else None,
        "production_path": job.production_path,
        "template": template,
        "inputs": input_values(job) if template is not None else None,
        "model_name": job.model,  # a template's own model anyway; without one, the model the job chose
        "image_type": job.image_type,
        **brand_of(job),
    }


def input_values(job: GenerationJob) -> dict[str, str]:
    """The template inputs a job was submitted with, by name, as a new submit takes them."""
    return {name: entry["value"] for name, entry in (job.inputs or {}).items()}


def vary_image(
    *, user: User, image: GeneratedImage, strength: str | float = "subtle", num_images: int = 1
) -> GenerationJob:
    """New takes on an image: its own prompt and settings with a new seed, through image-to-image."""
    if isinstance(strength, str):
        if strength not in VARIATION_STRENGTHS:
            raise ValidationError({"strength": _("Use subtle, strong or a number between 0.05 and 1.0.")})
        strength = VARIATION_STRENGTHS[strength]
    return submit_job(user=user, **_from_image(image), source_image=image, strength=strength, num_images=num_images)


def extend_image(
    *,
    user: User,
    image: GeneratedImage,
    anchor: str = "center",
    size_preset: str | None = None,
    width: int | None = None,
    height: int | None = None,
) -> GenerationJob:
    """The image on a larger canvas (a square shot becomes a 16:9 banner), the new area drawn around it."""
    fields = _from_image(image)
    fields.pop("template"), fields.pop("inputs")  # the canvas is the customer's choice, not the template's size
    return submit_job(
        user=user,
        **fields,
        source_image=image,
        outpaint_anchor=anchor,
        size_preset=size_preset,
        width=width,
        height=height,
    )


def upscale_image(*, user: User, image: GeneratedImage, factor: int = 2) -> GenerationJob:
    """The image enlarged `factor` times, its detail redrawn tile by tile at low strength."""
    fields = _from_image(image)
    fields.pop("template"), fields.pop("inputs")
    return submit_job(user=user, **fields, source_image=image, upscale_factor=factor)


def estimate_seconds(job: GenerationJob) -> float:
    spec = MODELS[job.model]
    scale = (job.width * job.height) / (1024 * 1024)
    if job.mode == JobMode.UPSCALE:  # its steps run on tiles of about a megapixel each
        scale = 1.0
    steps = job.progress_total or job.steps * job.num_images
    return round(spec.seconds_per_step_estimate * steps * max(scale, 0.25) + 1.0, 1)


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
        )  # retried once on a fresh connection (CELERY_TASK_PUBLISH_RETRY_POLICY), then the job waits for the sweeper
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
    for _attempt in range(3):  # the status may move under us (queued -> running); try again on the new one
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
            raise ValidationError(
                _("Only a failed job can be retried; job %(job)s is %(status)s.")
                % {"job": original.pk, "status": original.get_status_display()}
            )
        if not original.owner.is_active:
            raise ValidationError(_("Job %(job)s belongs to a suspended account.") % {"job": original.pk})
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
            inputs=input_values(original) if original.template is not None else None,
            model_name=original.model,
            num_images=original.num_images,
            image_type=original.image_type,
            **(overrides | image_input_of(original) | brand_of(original)),
        )
        GenerationJob.objects.filter(pk=retry.pk).update(retry_of=original)
        retry.retry_of = original
    logger.info("failed job retried as job %s", retry.pk, extra={"job_id": original.pk, "user_id": original.owner_id})
    return retry


def brand_of(job: GenerationJob) -> dict[str, Any]:
    """The styles (as resolved, weights included) and brand kit a job used, as submit_job's arguments: for a retry
    or a new take on its image. A style deleted since makes the new submit refuse on `styles`."""
    return {
        "styles": [{"id": style["id"], "weight": style["weight"]} for style in job.styles] or None,
        "brand_kit": job.brand_kit,
        "apply_logo": job.apply_logo if job.brand_kit is not None else None,
    }


def image_input_of(job: GenerationJob) -> dict[str, Any]:
    """The image inputs a job was submitted with, as submit_job's arguments: for a retry or "run again".

    A source or mask deleted since makes the new submit refuse with a field error rather than run as text.
    """
    if job.mode == JobMode.TEXT:
        return {}
    source = job.source
    if source is None:
        raise ValidationError({"source_image": _("The source image of this job has been deleted.")})
    if job.mode == JobMode.INPAINT and job.mask is None:
        raise ValidationError({"mask": _("The mask of this job has been deleted.")})
    arguments: dict[str, Any] = {"source_image": source, "mask": job.mask, "reference": bool(job.reference_method)}
    if job.mode == JobMode.UPSCALE:
        arguments.update(upscale_factor=job.upscale_factor, width=None, height=None)
    if job.mode == JobMode.OUTPAINT:
        arguments["outpaint_anchor"] = job.outpaint_anchor
    else:
        arguments["strength"] = job.strength
    return arguments


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
