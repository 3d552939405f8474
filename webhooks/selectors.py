"""Reads for webhooks. Every queryset starts from the owner, so another user's endpoint or delivery is not found."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


def endpoints_for(user) -> QuerySet[WebhookEndpoint]:
    """The account's endpoints (a job's own webhook is listed with the job's deliveries instead)."""
    return WebhookEndpoint.objects.filter(owner=user, job__isnull=True)


def deliveries_for(user) -> QuerySet[WebhookDelivery]:
    return (
        WebhookDelivery.objects.filter(endpoint__owner=user)
        .select_related("endpoint")
        .prefetch_related(Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("number")))
        .order_by("-id")
    )
