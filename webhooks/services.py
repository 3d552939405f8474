"""Writes for webhooks: endpoints and their secrets, a job's own webhook, the deliveries of a job's events, and
each attempt (signed per Standard Webhooks, retried with backoff and jitter for over 24 hours, then given up).

Deliveries are made by Celery tasks on the `default` queue (tasks.py), never by the worker's job thread: the job
only hands its event to the fan-out thread (dispatch.py), which writes the delivery rows and enqueues them.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import urllib3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from standardwebhooks.webhooks import Webhook

from core.request_id import HEADER as REQUEST_ID_HEADER
from generation.engine.paths import DEFAULT_QUEUE

from .models import (
    EVENT_KIND,
    DeliveryStatus,
    SigningSecret,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    new_secret,
)
from .safety import Target, UnsafeTarget, resolve_target, validate_webhook_url

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

DEFAULT_JOB_EVENTS = (WebhookEvent.COMPLETED,)
MAX_ENDPOINTS_PER_ACCOUNT = 20
# A retry sooner than this goes as a Celery countdown; a later one waits for the beat sweeper, since the Redis
# broker would redeliver a message held longer than its visibility timeout.
MAX_COUNTDOWN = 60.0
# A delivery enqueued but not attempted within this is enqueued again by the sweeper (a lost message).
ENQUEUE_LEASE = timedelta(seconds=120)
MAX_ERROR_LENGTH = 500


# --- endpoints -------------------------------------------------------------------------------


def clean_events(events: Iterable[str] | None, *, field: str, default: Sequence[str] = DEFAULT_JOB_EVENTS) -> list[str]:
    """The subscribed events, each one of WebhookEvent's, without repeats; `default` when none are given."""
    if events is None:
        return list(default)
    if isinstance(events, str) or not all(isinstance(event, str) for event in events):
        raise ValidationError({field: _("Give a list of event names.")})
    unknown = sorted({event for event in events if event not in WebhookEvent.values})
    if unknown:
        choices = ", ".join(WebhookEvent.values)
        raise ValidationError(
            {
                field: _("Unknown event %(names)s; choose from %(choices)s.")
                % {"names": ", ".join(unknown), "choices": choices}
            }
        )
    cleaned = list(dict.fromkeys(events))
    if not cleaned:
        raise ValidationError({field: _("Subscribe to at least one event.")})
    return cleaned


def endpoint_create(
    *, owner: User, url: str, events: Iterable[str] | None = None, description: str = ""
) -> WebhookEndpoint:
    """An account endpoint: every job of the owner's sends it the events it subscribes to."""
    events = clean_events(events, field="events")
    validate_webhook_url(url, field="url")
    if WebhookEndpoint.objects.filter(owner=owner, job__isnull=True).count() >= MAX_ENDPOINTS_PER_ACCOUNT:
        raise ValidationError(
            {"url": _("An account has at most %(count)s webhooks.") % {"count": MAX_ENDPOINTS_PER_ACCOUNT}}
        )
    return WebhookEndpoint.objects.create(owner=owner, url=url, events=events, description=description)


def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    events: Iterable[str] | None = None,
    description: str | None = None,
) -> WebhookEndpoint:
    if url is not None:
        validate_webhook_url(url, field="url")
        endpoint.url = url
    if events is not None:
        endpoint.events = clean_events(events, field="events")
    if description is not None:
        endpoint.description = description
    endpoint.save()
    return endpoint


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret from now on; deliveries already signed with the old one are not re-signed."""
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret", "updated_at"])
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def signing_secret_for(*, owner: User, rotate: bool = False) -> SigningSecret:
    """The account's secret for per-job webhooks (made on first use); `rotate` replaces it for later jobs."""
    secret, created = SigningSecret.objects.get_or_create(owner=owner)
    if rotate and not created:
        secret.secret, secret.rotated_at = new_secret(), timezone.now()
        secret.save(update_fields=["secret", "rotated_at"])
    return secret


def job_webhook_clean(*, url: str | None, events: Iterable[str] | None) -> tuple[str, list[str]] | None:
    """A submit's `webhook_url` and `webhook_events`, checked before anything is written; None without a URL."""
    if not url:
        if events is not None:
            raise ValidationError({"webhook_url": _("Give a webhook_url with webhook_events.")})
        return None
    cleaned = clean_events(events, field="webhook_events")
    validate_webhook_url(url, field="webhook_url")
    return url, cleaned


def job_webhook_attach(*, job: Any, webhook: tuple[str, list[str]]) -> WebhookEndpoint:
    """The job's own endpoint, signed with the account's secret; in the submit's transaction."""
    url, events = webhook
    secret = signing_secret_for(owner=job.owner).secret
    return WebhookEndpoint.objects.create(owner_id=job.owner_id, job=job, url=url, events=events, secret=secret)


# --- fan-out: a job event -> deliveries -------------------------------------------------------


def endpoints_for_job(*, job_id: int, owner_id: int) -> list[WebhookEndpoint]:
    """The account's endpoints and the job's own: every URL that may want this job's events."""
    from django.db.models import Q

    return list(WebhookEndpoint.objects.filter(Q(job__isnull=True) | Q(job_id=job_id), owner_id=owner_id))


def fan_out_job_event(
    *,
    job_id: int,
    event_type: str,
    endpoints: Sequence[WebhookEndpoint],
    body: Callable[[], dict[str, Any]],
    timestamp: float,
    seq: Callable[[], int | None] = lambda: None,
) -> list[int]:
    """Write one delivery per endpoint that wants the event; the ids to enqueue.

    `progress` is coalesced: while an endpoint's progress delivery for the job waits for its first attempt it
    takes the newer body, and while one is being retried a newer progress event is dropped.
    """
    wanting = [endpoint for endpoint in endpoints if endpoint.wants(event_type)]
    if not wanting:
        return []
    payload = {
        "type": event_type,
        "timestamp": datetime.fromtimestamp(timestamp, tz=UTC).isoformat().replace("+00:00", "Z"),
        "seq": seq(),  # the job's event order, shared with the WebSocket and SSE (null: not numbered)
        "data": body(),
    }
    payload = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    created: list[int] = []
    lease = timezone.now() + ENQUEUE_LEASE
    for endpoint in wanting:
        if EVENT_KIND[event_type] == WebhookEvent.PROGRESS:
            waiting = WebhookDelivery.objects.filter(
                endpoint=endpoint, job_id=job_id, event_type=event_type, status=DeliveryStatus.PENDING
            )
            if waiting.filter(attempts=0).update(payload=payload):
                continue
            if waiting.exists():
                continue
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, job_id=job_id, event_type=event_type, payload=payload, next_attempt_at=lease
        )
        created.append(delivery.pk)
    return created


def enqueue_deliveries(delivery_ids: Iterable[int], *, countdown: float | None = None) -> None:
    """Each to the `default` queue, retried once on a fresh connection (CELERY_TASK_PUBLISH_RETRY_POLICY: after a
    broker restart every pooled connection is dead); a broker still down leaves it to the sweeper (its lease runs
    out)."""
    from .tasks import deliver_webhook_task

    for delivery_id in delivery_ids:
        try:
            deliver_webhook_task.apply_async(args=(delivery_id,), queue=DEFAULT_QUEUE, countdown=countdown)  # type: ignore[arg-type]
        except Exception as error:  # kombu.OperationalError, redis errors: broker unreachable
            logger.warning(
                "could not enqueue a webhook delivery", extra={"delivery_id": delivery_id, "error": str(error)}
            )


# --- attempts --------------------------------------------------------------------------------


class WaitForEarlier(Exception):
    """An earlier event of the same job for the same endpoint has not had its first attempt yet."""


def retry_delay(attempt: int) -> float | None:
    """Seconds before the attempt after `attempt` (1-based), with +-10 % jitter; None once the schedule is spent.

    The default schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h) keeps trying for about 31 hours."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if attempt > len(schedule):
        return None
    return float(schedule[attempt - 1]) * random.uniform(0.9, 1.1)  # noqa: S311 (jitter, not security)


def signed_headers(*, secret: str, message_id: str, body: str, now: datetime | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for `body`, signed with the standardwebhooks package."""
    now = now or timezone.now()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, body),
        "content-type": "application/json",
        "user-agent": "zimage-webhooks/1",
    }


def _post(target: Target, body: bytes, headers: dict[str, str]) -> int:
    """POST to the checked address (no second lookup, no redirects followed); the status code."""
    timeout = urllib3.Timeout(total=settings.WEBHOOK_TIMEOUT)
    host_header = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
    if ":" in target.host and target.port not in (80, 443):
        host_header = f"[{target.host}]:{target.port}"
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeout, retries=False, maxsize=1)
    with pool:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "host": host_header},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        status = response.status
        response.drain_conn()
        response.release_conn()
    return status


def attempt_delivery(*, delivery_id: int, force: bool = False) -> str:
    """One attempt of a pending delivery, recorded; the outcome. Safe to call for every (re)delivered message:
    the attempt is claimed with a conditional UPDATE, so two messages never send the same attempt twice."""
    deliveries = WebhookDelivery.objects.select_related("endpoint").annotate(request_id=F("job__request_id"))
    delivery = deliveries.filter(pk=delivery_id).first()
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return "skipped"
    earlier = WebhookDelivery.objects.filter(
        endpoint_id=delivery.endpoint_id,
        job_id=delivery.job_id,
        pk__lt=delivery.pk,
        status=DeliveryStatus.PENDING,
        attempts=0,
    )
    if not force and delivery.job_id is not None and earlier.exists():
        raise WaitForEarlier
    number = delivery.attempts + 1
    claimed = WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=delivery.attempts)
    if not claimed.update(attempts=number, next_attempt_at=timezone.now() + ENQUEUE_LEASE):
        return "lost-race"
    body = json.dumps(delivery.payload, separators=(",", ":"))
    started, began = timezone.now(), time.monotonic()
    status_code: int | None = None
    error = ""
    try:
        target = resolve_target(delivery.endpoint.url)
        headers = signed_headers(secret=delivery.endpoint.secret, message_id=delivery.message_id, body=body)
        if delivery.request_id:  # the id of the request that submitted the job: the receiver can quote it to us
            headers[REQUEST_ID_HEADER] = delivery.request_id
        status_code = _post(target, body.encode(), headers)
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except UnsafeTarget as refused:
        error = str(refused)
    except urllib3.exceptions.HTTPError as failure:  # timeouts, refused connections, TLS errors
        error = f"{type(failure).__name__}: {failure}"
    except OSError as failure:
        error = f"{type(failure).__name__}: {failure}"
    duration_ms = round(1000 * (time.monotonic() - began))
    delay = None if not error else retry_delay(number)
    next_retry_at = started + timedelta(seconds=delay) if delay is not None else None
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=number,
            started_at=started,
            status_code=status_code,
            duration_ms=duration_ms,
            error=error[:MAX_ERROR_LENGTH],
            next_retry_at=next_retry_at,
        )
        if not error:
            outcome = DeliveryStatus.SUCCEEDED
            changes: dict[str, Any] = {"status": outcome, "finished_at": timezone.now(), "next_attempt_at": None}
        elif next_retry_at is None:
            outcome = DeliveryStatus.FAILED
            changes = {"status": outcome, "finished_at": timezone.now(), "next_attempt_at": None}
        else:
            outcome = DeliveryStatus.PENDING
            changes = {"next_attempt_at": next_retry_at}
        WebhookDelivery.objects.filter(pk=delivery.pk, attempts=number).update(**changes)
    log = logger.info if not error else logger.warning
    log(
        "webhook attempt %s: %s",
        number,
        error or status_code,
        extra={
            "delivery_id": delivery.pk,
            "job_id": delivery.job_id,
            "user_id": delivery.endpoint.owner_id,
            "request_id": delivery.request_id or "",
        },
    )
    if delay is not None and delay <= MAX_COUNTDOWN:
        transaction.on_commit(lambda: enqueue_deliveries([delivery.pk], countdown=delay))
    return "retrying" if outcome == DeliveryStatus.PENDING else str(outcome)


def redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now, with the same webhook-id (receivers de-duplicate on it), whatever its status."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING, finished_at=None, next_attempt_at=timezone.now()
    )
    delivery.refresh_from_db()
    transaction.on_commit(lambda: enqueue_deliveries([delivery.pk]))
    return delivery


def send_due_deliveries(*, limit: int = 500) -> int:
    """Beat: enqueue pending deliveries whose next attempt is due (long retries, lost messages)."""
    now = timezone.now()
    due = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    if due:
        WebhookDelivery.objects.filter(pk__in=due).update(next_attempt_at=now + ENQUEUE_LEASE)
        enqueue_deliveries(due)
    return len(due)
