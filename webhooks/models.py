"""Signed webhooks: where to send a job's events (per account or per job), and every delivery and attempt."""

from __future__ import annotations

import base64
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class WebhookEvent(models.TextChoices):
    """What a webhook subscribes to; `completed` covers succeeded, failed and canceled."""

    STARTED = "started", _("Started")
    PROGRESS = "progress", _("Progress")
    IMAGE = "image", _("Image")
    COMPLETED = "completed", _("Completed")


# The job event type -> the subscription it needs; job.queued has none (the submitter already knows).
EVENT_KIND = {
    "job.started": WebhookEvent.STARTED,
    "job.progress": WebhookEvent.PROGRESS,
    "job.image": WebhookEvent.IMAGE,
    "job.succeeded": WebhookEvent.COMPLETED,
    "job.failed": WebhookEvent.COMPLETED,
    "job.canceled": WebhookEvent.COMPLETED,
}


def new_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


class SigningSecret(models.Model):
    """The account's secret for the webhooks given per job (`webhook_url` on submit)."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_secret", verbose_name=_("owner")
    )
    secret = models.CharField(_("secret"), max_length=64, default=new_secret)
    rotated_at = models.DateTimeField(_("rotated at"), default=timezone.now)

    class Meta:
        verbose_name = _("signing secret")
        verbose_name_plural = _("signing secrets")

    def __str__(self) -> str:
        return f"Webhook secret of {self.owner_id}"


class WebhookEndpoint(models.Model):
    """A URL that receives signed events: the account's (every job) or one job's (`job` set, from its submit)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints", verbose_name=_("owner")
    )
    job = models.ForeignKey(
        "generation.GenerationJob",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhooks",
        verbose_name=_("job"),
    )
    url = models.URLField(_("URL"), max_length=2000)
    events = models.JSONField(_("events"), default=list, help_text=_("Any of started, progress, image, completed."))
    description = models.CharField(_("description"), max_length=200, blank=True)
    secret = models.CharField(_("secret"), max_length=64, default=new_secret)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        indexes = [models.Index(fields=["owner", "job"], name="webhook_owner_job")]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        kind = EVENT_KIND.get(event_type)
        return kind is not None and kind in self.events


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One event for one endpoint: the same `message_id` (webhook-id) and body on every attempt."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("endpoint")
    )
    job = models.ForeignKey(
        "generation.GenerationJob",
        null=True,
        on_delete=models.CASCADE,
        related_name="webhook_deliveries",
        verbose_name=_("job"),
    )
    message_id = models.CharField(_("message ID"), max_length=40, unique=True, default=new_message_id)
    event_type = models.CharField(_("event type"), max_length=32)
    payload = models.JSONField(_("payload"))
    status = models.CharField(_("status"), max_length=16, choices=DeliveryStatus, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ("-id",)
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [
            models.Index(fields=["endpoint", "job", "status"], name="delivery_endpoint_job"),
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_pending_due",
                condition=models.Q(status="pending"),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=DeliveryStatus.values), name="delivery_status_valid")
        ]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One try of a delivery: what the receiver answered (or why nothing came back) and when the next try is."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log", verbose_name=_("delivery")
    )
    number = models.PositiveSmallIntegerField(_("attempt number"))
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    error = models.CharField(_("error"), max_length=500, blank=True)
    next_retry_at = models.DateTimeField(_("next retry at"), null=True, blank=True)

    class Meta:
        ordering = ("number",)
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="attempt_once_per_number")]

    def __str__(self) -> str:
        return f"Attempt {self.number} of {self.delivery_id}"
