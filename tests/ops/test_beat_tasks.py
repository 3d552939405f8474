"""Every scheduled (beat) task is idempotent: run twice, the second run changes nothing."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from accounts.models import CreditEntry, IdempotencyRecord, Tier
from accounts.tiers import DEFAULT_TIERS
from gallery.models import GeneratedImage, ShareLink
from generation.models import GenerationJob, JobStatus
from zimage.celery import app

from ..factories import GeneratedImageFactory, GenerationJobFactory, UserFactory

pytestmark = pytest.mark.django_db

SCHEDULED = sorted(entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values())


def run_twice(task_name: str, state):
    """Run the task as beat's worker would (by name, here in this process) twice; the state after the first run."""
    app.loader.import_default_modules()
    task = app.tasks[task_name]
    before = state()
    task.apply().get()
    first = state()
    task.apply().get()
    second = state()
    assert first != before, f"{task_name} did nothing on its first run"
    assert second == first, f"{task_name} changed things again on its second run"
    return first


def job_state(job):
    def state():
        fresh = GenerationJob.objects.get(pk=job.pk)
        entries = sorted(CreditEntry.objects.filter(job=job).values_list("kind", "amount", "reserved_change"))
        return fresh.status, fresh.retry_count, fresh.dispatch_token, fresh.dispatched_at, entries

    return state


def test_every_scheduled_task_is_registered_and_tested_here():
    app.loader.import_default_modules()
    assert set(SCHEDULED) <= set(app.tasks)
    assert set(SCHEDULED) == set(CASES)


def redispatch_queued_jobs(user, broker):
    job = GenerationJobFactory(
        owner=user, with_reservation=True, created_at=timezone.now() - timedelta(minutes=5)
    )  # never sent: the broker was down
    state = job_state(job)
    status, _, _, dispatched_at, _, waiting = run_twice(
        "generation.redispatch_queued_jobs", lambda: (*state(), broker.llen("gen.fashion"))
    )
    assert (status, waiting) == (JobStatus.QUEUED, 1) and dispatched_at is not None


def reap_stale_jobs(user, broker):
    job = GenerationJobFactory(owner=user, with_reservation=True)
    job.transition(JobStatus.RUNNING, worker_id="gone-host:1", heartbeat_at=timezone.now() - timedelta(minutes=5))
    status, retries, *_ = run_twice("generation.reap_stale_jobs", job_state(job))
    assert (status, retries) == (JobStatus.QUEUED, 1)
    assert broker.llen("gen.fashion") == 1  # sent again, with a backoff countdown


def fail_overrunning_jobs(user, broker):
    """Heart-beating all along, so the heartbeat reaper leaves it; running past 2 x JOB_TIME_LIMIT fails it."""
    job = GenerationJobFactory(owner=user, with_reservation=True, num_images=2)
    long_ago = timezone.now() - timedelta(seconds=2 * django_settings.JOB_TIME_LIMIT + 5)
    job.transition(JobStatus.RUNNING, worker_id="busy-host:1", started_at=long_ago, heartbeat_at=timezone.now())
    GenerationJob.objects.filter(pk=job.pk).update(images_done=1)
    app.tasks["generation.reap_stale_jobs"].apply().get()
    assert GenerationJob.objects.get(pk=job.pk).status == JobStatus.RUNNING
    status, *_, entries = run_twice("generation.fail_overrunning_jobs", job_state(job))
    assert status == JobStatus.FAILED
    assert entries == sorted([("reservation", -2, 2), ("charge", 0, -1), ("release", 1, -1)])
    assert "past the hard time limit" in GenerationJob.objects.get(pk=job.pk).last_error


def grant_monthly_credits(user, broker):
    defaults = DEFAULT_TIERS["free"]
    fields = {field.name: getattr(defaults, field.name) for field in Tier._meta.fields if field.name != "name"}
    Tier.objects.update_or_create(name="free", defaults=fields | {"monthly_credits": 100})
    fresh = UserFactory(credits=0)
    run_twice(
        "accounts.grant_monthly_credits",
        lambda: list(CreditEntry.objects.filter(user=fresh).values_list("kind", "amount")),
    )
    fresh.refresh_from_db()
    assert fresh.credit_balance == 100


def settle_finished_jobs(user, broker):
    job = GenerationJobFactory(
        owner=user, with_reservation=True
    )  # reserved, then its process died between finishing and settling
    GenerationJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, finished_at=timezone.now())
    *_, entries = run_twice("generation.settle_finished_jobs", job_state(job))
    assert entries == sorted([("reservation", -1, 1), ("release", 1, -1)])


def purge_idempotency_keys(user, broker):
    old = IdempotencyRecord.objects.create(user=user, key="old", request_hash="0" * 64, response_status=201)
    IdempotencyRecord.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    IdempotencyRecord.objects.create(user=user, key="new", request_hash="0" * 64, response_status=201)
    keys = run_twice(
        "accounts.purge_idempotency_keys", lambda: sorted(IdempotencyRecord.objects.values_list("key", flat=True))
    )
    assert keys == ["new"]


def empty_trash(user, broker):
    expired = GeneratedImageFactory(
        owner=user, deleted_at=timezone.now() - timedelta(days=django_settings.GALLERY_TRASH_DAYS + 1)
    )
    recent = GeneratedImageFactory(owner=user, deleted_at=timezone.now())
    kept = run_twice("gallery.empty_trash", lambda: sorted(GeneratedImage.objects.values_list("pk", flat=True)))
    assert expired.pk not in kept and recent.pk in kept


def clean_expired_share_links(user, broker):
    image = GeneratedImageFactory(owner=user)
    expired = ShareLink.objects.create(owner=user, image=image, expires_at=timezone.now() - timedelta(minutes=1))
    live = ShareLink.objects.create(owner=user, image=image, expires_at=timezone.now() + timedelta(days=1))
    links = run_twice(
        "gallery.clean_expired_share_links", lambda: sorted(ShareLink.objects.values_list("pk", flat=True))
    )
    assert links == [live.pk] and expired.pk not in links


def flush_expired_tokens(user, broker):
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    from accounts.tokens import RefreshToken

    live = RefreshToken.for_user(user)
    expired = RefreshToken.for_user(user)
    OutstandingToken.objects.filter(jti=expired["jti"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    kept = run_twice(
        "accounts.flush_expired_tokens", lambda: list(OutstandingToken.objects.values_list("jti", flat=True))
    )
    assert kept == [live["jti"]]


def send_due_webhook_deliveries(user, broker):
    """A retry due hours after its failure is sent by beat once; the lease keeps a second run from sending it again."""
    from webhooks.models import WebhookDelivery
    from webhooks.services import endpoint_create

    endpoint = endpoint_create(owner=user, url="https://hooks.example.com/zimage")
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event_type="job.succeeded", payload={}, next_attempt_at=timezone.now() - timedelta(hours=1)
    )
    due = run_twice(
        "webhooks.send_due_deliveries",
        lambda: (WebhookDelivery.objects.get(pk=delivery.pk).next_attempt_at, broker.llen("default")),
    )
    assert due[0] > timezone.now() and due[1] == 1


CASES = {
    "generation.redispatch_queued_jobs": redispatch_queued_jobs,
    "generation.reap_stale_jobs": reap_stale_jobs,
    "generation.fail_overrunning_jobs": fail_overrunning_jobs,
    "accounts.grant_monthly_credits": grant_monthly_credits,
    "generation.settle_finished_jobs": settle_finished_jobs,
    "accounts.purge_idempotency_keys": purge_idempotency_keys,
    "accounts.flush_expired_tokens": flush_expired_tokens,
    "gallery.empty_trash": empty_trash,
    "gallery.clean_expired_share_links": clean_expired_share_links,
    "webhooks.send_due_deliveries": send_due_webhook_deliveries,
}


@pytest.mark.parametrize("task_name", sorted(CASES))
def test_a_second_run_changes_nothing(task_name, user, broker):
    CASES[task_name](user, broker)


def test_the_overrunning_job_reaper_runs_more_often_than_the_hard_time_limit():
    (entry,) = [
        e for e in django_settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "generation.fail_overrunning_jobs"
    ]
    assert entry["schedule"] <= django_settings.JOB_TIME_LIMIT
