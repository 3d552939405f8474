"""Celery entry points: thin wrappers that take ids and call services."""

from celery import shared_task
from django.conf import settings

from . import (
    services,
    worker,  # noqa: F401  (worker process signals: warm model, heartbeats)
)


@shared_task(bind=True, name="generation.run_job", acks_late=True, reject_on_worker_lost=True, max_retries=None)
def run_generation_job(self, job_id: int, dispatch_token: str) -> str:
    try:
        return services.execute_job(job_id=job_id, dispatch_token=dispatch_token)
    except services.ClaimHeldByLiveWorker:
        # Another delivery is running it right now: look again once its heartbeat would be stale.
        raise self.retry(countdown=settings.JOB_HEARTBEAT_TIMEOUT) from None
    except services.OwnerAtRunningLimit:
        # The owner's plan is at its running-jobs limit: give the worker to someone else for a moment.
        raise self.retry(countdown=services.retry_backoff(1) / 2) from None


@shared_task(name="generation.redispatch_queued_jobs", ignore_result=True)
def redispatch_queued_jobs() -> int:
    return services.redispatch_queued_jobs()


@shared_task(name="generation.reap_stale_jobs", ignore_result=True)
def reap_stale_jobs() -> int:
    return services.reap_stale_jobs()


@shared_task(name="generation.fail_overrunning_jobs", ignore_result=True)
def fail_overrunning_jobs() -> int:
    return services.fail_overrunning_jobs()
