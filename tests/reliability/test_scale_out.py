"""Scaling out (#24 part 4): two worker machines, as two worker processes with their own node names (`celery -n`),
against one broker and one database. Jobs spread over both, and a worker killed mid-job hands the job to the other.

Runs on the suite's broker, so on both Redis and RabbitMQ (.ci/run's second pass).
"""

from __future__ import annotations

import pytest

from generation import runner
from generation.models import FINAL_STATUSES, GenerationJob, JobStatus

from ..factories import UserFactory
from ..waiting import running_past, wait_until
from .test_faults import assert_invariants

pytestmark = pytest.mark.e2e


def worker_of(job: GenerationJob, workers) -> object | None:
    """The worker process whose pool ran (or runs) the job: its `worker_id` is `host:pid` of a pool process."""
    pid = int(job.worker_id.rpartition(":")[2] or 0)
    return next((worker for worker, pids in workers if pid in pids), None)


@pytest.mark.timeout(600)
def test_jobs_spread_over_two_workers_and_a_killed_ones_job_finishes_on_the_other(start_worker, submit, settings):
    first, second = start_worker(), start_worker()
    assert first.name != second.name
    workers = [(first, first.pool_pids()), (second, second.pool_pids())]
    user = UserFactory(tier="enterprise")  # runs several jobs at once

    short = [submit(user, seed=index) for index in range(8)]
    wait_until(
        lambda: GenerationJob.objects.filter(pk__in=[j.pk for j in short], status__in=FINAL_STATUSES).count() == 8,
        timeout=240,
        message="the short jobs to finish",
    )
    ran_on = {worker_of(job, workers) for job in GenerationJob.objects.filter(pk__in=[j.pk for j in short])}
    assert ran_on == {first, second}, "each worker took some of the jobs"

    long = submit(user, width=512, height=512, steps=20, seed=99)
    running = wait_until(
        lambda: running_past(long.pk, 2),
        message="the long job to run",
    )
    victim = worker_of(running, workers)
    survivor = second if victim is first else first
    assert victim is not None
    victim.kill()  # the whole machine's worker at once: main process and pool

    settings.JOB_HEARTBEAT_TIMEOUT = 3  # the reaper's patience in this process (beat's job in production)
    finished = wait_until(
        lambda: (job := GenerationJob.objects.get(pk=long.pk)).status in FINAL_STATUSES and job,
        timeout=180,
        message="the long job to finish on the other worker",
        between=runner.reap_stale_jobs,
        every=0.5,
    )
    assert finished.status == JobStatus.SUCCEEDED, finished.last_error
    assert worker_of(finished, workers) is survivor
    assert finished.deliveries == 2
    assert_invariants([user], [*short, long])
