"""Celery entry points: thin wrappers that take ids and call the runner, services and credits."""

from celery import shared_task, states
from django.conf import settings

from . import credits, runner

# No result row for a delivery that ran its job (the job's row holds the outcome): one INSERT less per job. A
# delivery that ran nothing or stopped (stale, skipped, interrupted...) is still recorded, for the operator.
ROUTINE_OUTCOMES = frozenset({runner.RunOutcome.DRAWN, runner.RunOutcome.SUCCEEDED})


@shared_task(
    bind=True,
    name="generation.run_job",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
    ignore_result=True,
)
def run_generation_job(self, job_id: int, dispatch_token: str) -> str:
    try:
        # The images are stored on the process's store thread while this worker draws the next job.
        outcome = runner.execute_job(job_id=job_id, dispatch_token=dispatch_token, in_background=True)
    except runner.ClaimHeldByLiveWorker:
        # Another delivery is running it right now: look again once its heartbeat would be stale.
        raise self.retry(countdown=settings.JOB_HEARTBEAT_TIMEOUT) from None
    except (runner.OwnerAtRunningLimit, runner.PathAtConcurrencyLimit):
        # The owner's plan or the job's path is at its running limit: give the worker to another job a moment.
        raise self.retry(countdown=runner.retry_backoff(1) / 2) from None
    if outcome not in ROUTINE_OUTCOMES and not self.request.called_directly:
        self.backend.store_result(self.request.id, str(outcome), states.SUCCESS, request=self.request)
    return outcome


@shared_task(name="generation.redispatch_queued_jobs", ignore_result=True)
def redispatch_queued_jobs() -> int:
    return runner.redispatch_queued_jobs()


@shared_task(name="generation.reap_stale_jobs", ignore_result=True)
def reap_stale_jobs() -> int:
    return runner.reap_stale_jobs()


@shared_task(name="generation.fail_overrunning_jobs", ignore_result=True)
def fail_overrunning_jobs() -> int:
    return runner.fail_overrunning_jobs()


@shared_task(name="generation.settle_finished_jobs", ignore_result=True)
def settle_finished_jobs() -> int:
    return credits.settle_finished_jobs()
