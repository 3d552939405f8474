import functools
import uuid
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gallery.models import ImageType

from . import progress
from .engine.diffusion.ip_adapter import scale_for
from .engine.job_input import JobInput, JobMode
from .engine.paths import DEFAULT_PATH, PATH_CHOICES

if TYPE_CHECKING:
    from .scheduling import Standing


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELED = "canceled", _("Canceled")


FINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED})

# running -> queued is a retry (transient error or a dead worker's job taken back).
LEGAL_TRANSITIONS: dict[str, frozenset[str]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.FAILED, JobStatus.CANCELED}),
    JobStatus.RUNNING: frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.QUEUED}),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELED: frozenset(),
}

TRANSITION_TIMESTAMPS = {
    JobStatus.RUNNING: "started_at",
    JobStatus.SUCCEEDED: "finished_at",
    JobStatus.FAILED: "finished_at",
    JobStatus.CANCELED: "finished_at",
}


class ReferenceMethod(models.TextChoices):
    """How a character's reference image shapes a scene: image-to-image from it, or SDXL's IP-Adapter."""

    IMAGE_TO_IMAGE = "image", _("Image-to-image from the reference")
    IP_ADAPTER = "ip_adapter", _("IP-Adapter identity")


# What the admin and forms call each mode (the engine's JobMode stays free of Django); a mode without one fails import.
MODE_LABELS = {
    JobMode.TEXT: _("Text to image"),
    JobMode.IMAGE: _("Image to image"),
    JobMode.INPAINT: _("Inpaint"),
    JobMode.OUTPAINT: _("Outpaint"),
    JobMode.UPSCALE: _("Upscale"),
}


class IllegalTransition(Exception):
    pass


class GenerationJob(models.Model):
    """One request to generate 1-4 images. Its status only moves along LEGAL_TRANSITIONS."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs", verbose_name=_("owner")
    )
    template = models.ForeignKey(
        "templates_app.Template",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
        verbose_name=_("template"),
    )
    production_path = models.CharField(_("production path"), max_length=32, choices=PATH_CHOICES, default=DEFAULT_PATH)
    # What the images are for (gallery.models.ImageType): general, or a story's scene / character.
    image_type = models.CharField(_("image type"), max_length=16, choices=ImageType, default=ImageType.GENERAL)

    prompt = models.TextField(_("prompt"))
    negative_prompt = models.TextField(_("negative prompt"), blank=True)
    enhanced_prompt = models.TextField(
        _("enhanced prompt"), blank=True, help_text=_("The prompt actually sent to the model.")
    )
    prompt_truncated = models.BooleanField(
        _("prompt truncated"),
        default=False,
        help_text=_("The prompt was longer than the model reads; only its start was used."),
    )
    model = models.CharField(_("model"), max_length=128)
    scheduler = models.CharField(_("scheduler"), max_length=64)
    steps = models.PositiveSmallIntegerField(_("steps"))
    guidance = models.FloatField(_("guidance"))
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    num_images = models.PositiveSmallIntegerField(_("number of images"), default=1)
    seed = models.BigIntegerField(_("seed"))
    workflow = models.JSONField(
        _("workflow"), default=list, help_text=_("The node list this job runs, resolved at submit.")
    )
    credit_cost = models.PositiveIntegerField(_("credit cost"), default=0)
    # Image input: what the job starts from (one of the owner's uploads or gallery images) and how.
    mode = models.CharField(
        _("mode"), max_length=16, choices=[(mode.value, MODE_LABELS[mode]) for mode in JobMode], default="text"
    )
    source_upload = models.ForeignKey(
        "gallery.SourceImage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
        verbose_name=_("source upload"),
    )
    source_image = models.ForeignKey(
        "gallery.GeneratedImage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="derived_jobs",
        verbose_name=_("source image"),
    )
    mask = models.ForeignKey(
        "gallery.SourceImage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="masked_jobs",
        verbose_name=_("mask"),
    )
    strength = models.FloatField(
        _("strength"), default=0.0, help_text=_("How far from the source the model may go (0.05-1).")
    )
    outpaint_anchor = models.CharField(_("outpaint anchor"), max_length=8, blank=True)
    upscale_factor = models.PositiveSmallIntegerField(_("upscale factor"), default=0)
    # How a scene character's reference image conditions the job: redrawn from it, or IP-Adapter identity.
    reference_method = models.CharField(_("reference method"), max_length=16, choices=ReferenceMethod, blank=True)
    # The request id of the submit (the proxy's X-Request-ID, else generated): on every log line of the job.
    request_id = models.CharField(_("request ID"), max_length=64, blank=True, editable=False)
    # Brand styles (brands app), resolved at submit: what the worker loads and what the image records.
    styles = models.JSONField(
        _("styles"),
        default=list,
        blank=True,
        help_text=(
            _('The LoRA styles applied, as a snapshot: [{"id", "name", "weight", "trigger_words", "file", "sha256"}].')
        ),
    )
    brand_kit = models.ForeignKey(
        "brands.BrandKit",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
        verbose_name=_("brand kit"),
    )
    apply_logo = models.BooleanField(
        _("apply logo"), default=False, help_text=_("Composite the brand kit's logo onto every image.")
    )
    inputs = models.JSONField(
        _("inputs"),
        default=dict,
        blank=True,
        help_text=_("The template's declared inputs this job set, by name (validated at submit)."),
    )
    # A failed job is retried as a new job, at most once (generation.services.retry_job: admin and API).
    retry_of = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="retried_as",
        editable=False,
        verbose_name=_("retry of"),
    )

    status = models.CharField(_("status"), max_length=16, choices=JobStatus, default=JobStatus.QUEUED)
    progress_step = models.PositiveIntegerField(_("progress step"), default=0)
    progress_total = models.PositiveIntegerField(_("progress total"), default=0)
    images_done = models.PositiveSmallIntegerField(_("images done"), default=0)
    retry_count = models.PositiveSmallIntegerField(_("retry count"), default=0)
    deliveries = models.PositiveSmallIntegerField(
        _("deliveries"), default=0, help_text=_("Times a worker claimed this job.")
    )
    last_error = models.TextField(_("last error"), blank=True)

    # Each dispatch carries this token; a message with an older token is stale and skipped.
    dispatch_token = models.UUIDField(_("dispatch token"), default=uuid.uuid4)
    celery_task_id = models.CharField(_("Celery task ID"), max_length=255, blank=True)
    worker_id = models.CharField(
        _("worker ID"), max_length=255, blank=True, help_text=_("hostname:pid of the claiming worker.")
    )
    heartbeat_at = models.DateTimeField(_("heartbeat at"), null=True, blank=True)

    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    canceled_at = models.DateTimeField(_("canceled at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    # Not a column: where the job stood in its path's queue when its submit announced it (services.
    # _announce_new_job), so that the 202 says the same without reading the queue again; unset on a loaded job.
    standing_at_submit: "Standing | None"

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("generation job")
        verbose_name_plural = _("generation jobs")
        indexes = [
            models.Index(fields=["status", "created_at"], name="job_status_created"),
            models.Index(fields=["production_path", "status", "created_at"], name="job_path_status_created"),
            models.Index(fields=["owner", "-created_at"], name="job_owner_created"),
            models.Index(fields=["status", "heartbeat_at"], name="job_status_heartbeat"),
            # The fair scheduler's history: the last jobs started on a path (generation.scheduling).
            models.Index(fields=["production_path", "-started_at"], name="job_path_started"),
            # Every submit counts its owner's unfinished jobs: this index holds only those, however many
            # finished jobs the owner has.
            models.Index(
                fields=["owner", "status"],
                name="job_owner_unfinished",
                condition=models.Q(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(num_images__gte=1, num_images__lte=4), name="job_num_images_1_4"),
            models.CheckConstraint(condition=models.Q(status__in=JobStatus.values), name="job_status_valid"),
            models.CheckConstraint(
                condition=models.Q(source_upload__isnull=True) | models.Q(source_image__isnull=True),
                name="job_one_source",
            ),
        ]

    def __str__(self) -> str:
        return f"Job {self.pk} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def percent(self) -> int:
        if not self.progress_total:
            return 100 if self.status == JobStatus.SUCCEEDED else 0
        return min(100, round(100 * self.progress_step / self.progress_total))

    def job_input(self) -> JobInput:
        """The record the job was submitted with, for the worker's workflow."""
        return JobInput(
            production_path=self.production_path,
            prompt=self.prompt,
            negative_prompt=self.negative_prompt,
            model=self.model,
            scheduler=self.scheduler,
            steps=self.steps,
            guidance=self.guidance,
            width=self.width,
            height=self.height,
            num_images=self.num_images,
            seed=self.seed,
            workflow=self.workflow,
            credit_cost=self.credit_cost,
            mode=self.mode,
            source_key=self.source_key,
            mask_key=self.mask.file.name if self.mask_id else "",
            strength=self.strength,
            outpaint_anchor=self.outpaint_anchor,
            upscale_factor=self.upscale_factor,
            reference_method=self.reference_method,
            styles=self.styles,
        )

    @property
    def ip_adapter_scale(self) -> float | None:
        """The IP-Adapter scale its reference conditions it at (from the strength), None unless IP-Adapter."""
        return scale_for(self.strength) if self.reference_method == ReferenceMethod.IP_ADAPTER else None

    @property
    def source(self):
        """The upload or gallery image this job starts from, or None."""
        return self.source_upload if self.source_upload_id else self.source_image

    @property
    def source_key(self) -> str:
        source = self.source
        return source.file.name if source is not None else ""

    def transition(self, new_status: str, *, where: dict | None = None, **changes) -> bool:
        """Move to `new_status` only if the row is still in the status this instance holds (and matches `where`).

        A conditional UPDATE, so two workers (or a worker and a cancel) can never both win:
        the loser gets False and must treat the job as no longer theirs.
        """
        if new_status not in LEGAL_TRANSITIONS[self.status]:
            raise IllegalTransition(f"A {self.status} job cannot become {new_status}.")
        now = timezone.now()
        changes["status"] = new_status
        if field := TRANSITION_TIMESTAMPS.get(new_status):
            changes.setdefault(field, now)
        if new_status == JobStatus.CANCELED:
            changes.setdefault("canceled_at", now)
        changes["updated_at"] = now
        left_running = self.status == JobStatus.RUNNING
        won = type(self).objects.filter(pk=self.pk, status=self.status, **(where or {})).update(**changes) == 1
        if won and left_running:
            # The run's live progress record (generation.progress) stops it at its next step once this commits.
            transaction.on_commit(functools.partial(progress.ended, self.pk, final=new_status in FINAL_STATUSES))
        if won:
            expressions = [name for name, value in changes.items() if hasattr(value, "resolve_expression")]
            for name, value in changes.items():
                if name not in expressions:
                    setattr(self, name, value)
            if expressions:
                self.refresh_from_db(fields=expressions)
        return won


class FairQueue(models.Model):
    """A path's fair queue clock (generation.scheduling): the pass of the last job started on it."""

    production_path = models.CharField(_("production path"), max_length=32, unique=True)
    virtual_time = models.BigIntegerField(_("virtual time"), default=0)

    class Meta:
        verbose_name = _("fair queue")
        verbose_name_plural = _("fair queues")

    def __str__(self) -> str:
        return f"{self.production_path} @ {self.virtual_time}"


class FairQueuePass(models.Model):
    """Where an owner stands in a path's fair queue: the pass its next job starts at (never behind the clock)."""

    queue = models.ForeignKey(FairQueue, on_delete=models.CASCADE, related_name="passes", verbose_name=_("queue"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("owner")
    )
    next_pass = models.BigIntegerField(_("next pass"), default=0)

    class Meta:
        verbose_name = _("fair queue pass")
        verbose_name_plural = _("fair queue passes")
        constraints = [models.UniqueConstraint(fields=["queue", "owner"], name="fair_queue_pass_unique")]

    def __str__(self) -> str:
        return f"{self.owner_id} on {self.queue_id} @ {self.next_pass}"
