"""Waiting for real processes: poll a condition, never sleep a fixed time and hope."""

import time


def wait_until(predicate, timeout=120, message="condition", every=0.05, between=None):
    """The predicate's first truthy value; `between` runs between polls (e.g. what beat would do)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if between:
            between()
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {message}")


def job_when(job_id, predicate, timeout=90):
    """The job, reloaded, once `predicate(job)` holds: a worker process moves it along meanwhile."""
    from generation.models import GenerationJob

    def check():
        job = GenerationJob.objects.get(pk=job_id)
        return job if predicate(job) else None

    return wait_until(check, timeout, f"job {job_id}")


def finished_job(job_id, timeout=90):
    """The job once it is final (succeeded, failed or canceled)."""
    return job_when(job_id, lambda job: job.is_final, timeout)
