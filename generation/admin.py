"""Staff views of generation jobs. Jobs change only through services: the page shows them, actions call services."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import CreditEntry
from core.errors import DomainError
from gallery.models import GeneratedImage
from gallery.selectors import signed_url

from . import services
from .models import FINAL_STATUSES, GenerationJob, JobStatus
from .ops import admin_stats


class GeneratedImageInline(admin.TabularInline):
    model = GeneratedImage
    fields = ("thumbnail_preview", "index", "uuid", "width", "height", "seed", "backend", "generation_seconds")
    readonly_fields = fields
    ordering = ("index",)
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    @admin.display(description=_("Image"))
    def thumbnail_preview(self, image: GeneratedImage) -> str:
        if not image.thumbnail:
            return "-"
        return format_html('<img src="{}" height="64" alt="">', signed_url(image.thumbnail.name))


class JobCreditEntryInline(admin.TabularInline):
    """The job's reservation, charge and release, straight from the ledger."""

    model = CreditEntry
    fk_name = "job"
    fields = ("created_at", "kind", "amount", "reserved_change", "reason")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = _("Credit ledger")


def _seconds(delta: timedelta | None) -> str:
    return "-" if delta is None else f"{delta.total_seconds():.1f} s"


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "owner",
        "production_path",
        "template",
        "status",
        "progress",
        "num_images",
        "credit_cost",
        "created_at",
        "queue_wait",
        "processing_time",
        "retry_count",
        "worker_id",
    )
    list_filter = ("status", "production_path", "image_type", "model", "created_at")
    search_fields = ("=id", "owner__email", "prompt", "worker_id", "celery_task_id", "=request_id")
    list_select_related = ("owner", "template")
    raw_id_fields = ("owner", "template")
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = (GeneratedImageInline, JobCreditEntryInline)
    actions = ("cancel_jobs", "retry_failed_jobs", "redispatch_queued_jobs")
    fieldsets = (
        (_("Request"), {"fields": ("owner", "template", "production_path", "image_type", "prompt", "negative_prompt")}),
        (
            _("Parameters"),
            {
                "fields": (
                    "enhanced_prompt",
                    ("model", "scheduler"),
                    ("steps", "guidance", "seed"),
                    ("width", "height", "num_images"),
                    "workflow",
                )
            },
        ),
        (
            _("Status"),
            {
                "fields": (
                    "status",
                    "progress",
                    "images_done",
                    "last_error",
                    ("retry_count", "deliveries"),
                    ("retry_of", "retried_as_link"),
                    "credit_cost",
                )
            },
        ),
        (
            _("Timing"),
            {
                "fields": (
                    ("created_at", "dispatched_at"),
                    ("started_at", "finished_at", "canceled_at"),
                    ("queue_wait", "processing_time"),
                )
            },
        ),
        (_("Worker"), {"fields": ("worker_id", "heartbeat_at", "celery_task_id", "dispatch_token", "request_id")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: GenerationJob | None = None) -> list[str]:
        """Every field: a job moves only along its legal transitions, through the actions below."""
        computed = ["progress", "queue_wait", "processing_time", "retried_as_link"]
        return [field.name for field in GenerationJob._meta.fields] + computed

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[GenerationJob]:
        return super().get_queryset(request).select_related("retried_as")

    @admin.display(description=_("Progress"))
    def progress(self, job: GenerationJob) -> str:
        return gettext("%(percent)s %% (%(done)s/%(total)s images)") % {
            "percent": job.percent,
            "done": job.images_done,
            "total": job.num_images,
        }

    @admin.display(description=_("Queue wait"))
    def queue_wait(self, job: GenerationJob) -> str:
        return _seconds(job.started_at - job.created_at if job.started_at else None)

    @admin.display(description=_("Processing time"))
    def processing_time(self, job: GenerationJob) -> str:
        return _seconds(job.finished_at - job.started_at if job.started_at and job.finished_at else None)

    @admin.display(description=_("Retried as"))
    def retried_as_link(self, job: GenerationJob) -> str:
        retry = getattr(job, "retried_as", None)
        if retry is None:
            return "-"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:generation_generationjob_change", args=[retry.pk]), retry
        )

    # --- actions: each calls one service per job and reports what happened -------------------

    @admin.action(
        description=_("Cancel selected jobs (credits of unproduced images are released)"), permissions=["change"]
    )
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[GenerationJob]) -> None:
        canceled = 0
        for job in queryset.exclude(status__in=FINAL_STATUSES):
            canceled += services.cancel_job(job=job).status == JobStatus.CANCELED
        self.message_user(
            request, gettext("Canceled %(count)s job(s); finished jobs were left as they were.") % {"count": canceled}
        )

    @admin.action(
        description=_("Retry selected failed jobs as new jobs (credits reserved again)"), permissions=["change"]
    )
    def retry_failed_jobs(self, request: HttpRequest, queryset: QuerySet[GenerationJob]) -> None:
        created, refused = [], 0
        for job in queryset.filter(status=JobStatus.FAILED).order_by("pk"):
            try:
                created.append(services.retry_job(job=job))
            except (ValidationError, DomainError) as error:  # a plan's refusal, a style deleted since
                refused += 1
                reason = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
                message = gettext("Job %(pk)s was not retried: %(reason)s") % {"pk": job.pk, "reason": reason}
                self.message_user(request, message, messages.WARNING)
        if created:
            ids = ", ".join(str(job.pk) for job in created)
            message = gettext("Retried %(count)s failed job(s) as job(s) %(ids)s.")
            self.message_user(request, message % {"count": len(created), "ids": ids}, messages.SUCCESS)
        elif not refused:
            self.message_user(request, gettext("No failed job was selected."), messages.WARNING)

    @admin.action(description=_("Re-dispatch selected queued jobs to their queue"), permissions=["change"])
    def redispatch_queued_jobs(self, request: HttpRequest, queryset: QuerySet[GenerationJob]) -> None:
        sent = sum(services.redispatch_job(job=job) for job in queryset.filter(status=JobStatus.QUEUED))
        self.message_user(request, gettext("Re-dispatched %(count)s queued job(s).") % {"count": sent})

    # --- the statistics page ---------------------------------------------------------------------

    def get_urls(self):
        stats = path("stats/", self.admin_site.admin_view(self.stats_view), name="generation_stats")
        return [stats, *super().get_urls()]

    def stats_view(self, request: HttpRequest) -> HttpResponse:
        """Staff who may view jobs; the numbers come from generation.ops.admin_stats."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return admin_stats.stats_view(request, admin_site=self.admin_site)
