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
    """The job, reloaded, once `predicate(job)` holds: a worker process moves it along meanwhile. A running job's
    step is read as the API reads it: live from Redis, the row holding only its milestones."""

    def check():
        job = live_job(job_id)
        return job if predicate(job) else None

    return wait_until(check, timeout, f"job {job_id}")


def live_job(job_id):
    """The job as its readers see it now: the row, with a running job's step live from Redis."""
    from generation import progress
    from generation.models import GenerationJob

    job = GenerationJob.objects.get(pk=job_id)
    progress.overlay([job])
    return job


def running_past(job_id, step):
    """The job when it runs at `step` or later (its live step), else None: for `wait_until`."""
    from generation.models import JobStatus

    job = live_job(job_id)
    return job if job.status == JobStatus.RUNNING and job.progress_step >= step else None


def finished_job(job_id, timeout=90):
    """The job once it is final (succeeded, failed or canceled)."""
    return job_when(job_id, lambda job: job.is_final, timeout)
