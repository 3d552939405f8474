"""Campaign batches: one request that makes a job per prompt x size preset, sharing every other job field.

The jobs stay ordinary generation jobs (their models are untouched); the batch points at them through
`BatchJob`, which also records each job's prompt and size preset for the zip's file names.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Batch(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="batches", verbose_name=_("owner")
    )
    production_path = models.CharField(_("production path"), max_length=32)
    template = models.ForeignKey(
        "templates_app.Template",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("template"),
    )
    parameters = models.JSONField(
        _("parameters"),
        default=dict,
        blank=True,
        help_text=_("The other job fields every job of the batch shares, as sent."),
    )
    total_cost = models.PositiveIntegerField(_("total cost"), help_text=_("Credits reserved for all its jobs."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    jobs = models.ManyToManyField(
        "generation.GenerationJob", through="BatchJob", related_name="+", verbose_name=_("jobs")
    )

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("batch")
        verbose_name_plural = _("batches")

    def __str__(self) -> str:
        return f"Batch {self.pk} ({self.owner_id})"


class BatchJob(models.Model):
    """One job of a batch: which prompt and size preset it draws, in the batch's order."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="entries", verbose_name=_("batch"))
    job = models.OneToOneField(
        "generation.GenerationJob", on_delete=models.CASCADE, related_name="batch_entry", verbose_name=_("job")
    )
    position = models.PositiveSmallIntegerField(_("position"))
    prompt = models.TextField(_("prompt"))
    size_preset = models.CharField(_("size preset"), max_length=32)

    class Meta:
        ordering = ("batch", "position")
        verbose_name = _("batch job")
        verbose_name_plural = _("batch jobs")
        constraints = [models.UniqueConstraint(fields=["batch", "position"], name="batch_job_position")]

    def __str__(self) -> str:
        return f"{self.batch_id}#{self.position}: job {self.job_id}"
