"""Fault tests: each breaks a real part under running jobs and asserts the invariants, never a timing.

Invariants: every job ends in a final state (none stuck running, none lost), no image is stored twice,
each job is charged at most once, and the credit ledger always equals the cached balance.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count

from accounts.models import CreditEntry, EntryKind
from core.brokers import uses_rabbitmq
from generation import runner
from generation.models import FINAL_STATUSES, GenerationJob, JobStatus

from ..accounts.helpers import assert_ledger_matches_cache
from ..factories import UserFactory
from ..waiting import live_job, running_past, wait_until

pytestmark = pytest.mark.e2e

postgres_only = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="needs the real PostgreSQL"
)


def assert_invariants(users, jobs):
    jobs = list(GenerationJob.objects.filter(pk__in=[job.pk for job in jobs]))
    assert all(job.status in FINAL_STATUSES for job in jobs), [(j.pk, j.status) for j in jobs]
    for job in jobs:
        indexes = sorted(job.images.values_list("index", flat=True))
        assert indexes == sorted(set(indexes)), f"job {job.pk} stored an image twice"
        if job.status == JobStatus.SUCCEEDED:
            assert indexes == list(range(job.num_images))
    charges = CreditEntry.objects.filter(job__in=jobs, kind=EntryKind.CHARGE).values("job").annotate(n=Count("id"))
    assert all(row["n"] == 1 for row in charges)
    for user in users:
        # A job turns final just before its settlement commits: wait for the settlement, then compare.
        wait_until(
            lambda user=user: not type(user).objects.get(pk=user.pk).credits_reserved,
            timeout=30,
            message="every finished job to be settled",
        )
        assert_ledger_matches_cache(user)


@pytest.mark.timeout(1200)  # twenty kill-and-recover cycles, each restarting a pool process that loads the model
def test_sigkill_of_the_pool_process_mid_job_twenty_times(worker, user, submit):
    jobs = []
    for index in range(20):
        job = submit(user, width=512, height=512, steps=12, seed=index)
        jobs.append(job)
        running = wait_until(lambda job=job: running_past(job.pk, 2), message=f"job {job.pk} to run")
        assert running
        for pid in worker.pool_pids():
            os.kill(pid, signal.SIGKILL)
        wait_until(
            lambda job=job: GenerationJob.objects.get(pk=job.pk).status in FINAL_STATUSES,
            message=f"job {job.pk} to finish after the kill",
        )
    assert_invariants([user], jobs)
    killed = GenerationJob.objects.filter(pk__in=[job.pk for job in jobs])
    assert all(job.deliveries >= 2 for job in killed), "every job was killed once and delivered again"


def test_the_broker_restarted_with_fifty_jobs_in_flight_loses_none_and_charges_once(
    private_broker, start_worker, settings, submit
):
    user = UserFactory(tier="enterprise")
    worker = start_worker(CELERY_BROKER_URL=private_broker.url)
    jobs = [submit(user, seed=index) for index in range(50)]
    wait_until(
        lambda: GenerationJob.objects.filter(pk__in=[j.pk for j in jobs], status=JobStatus.SUCCEEDED).count() >= 5,
        message="some jobs to finish",
    )

    in_flight = GenerationJob.objects.filter(pk__in=[j.pk for j in jobs]).exclude(status__in=FINAL_STATUSES)
    assert in_flight.count() >= 10, "the restart meets jobs queued and running"
    # Redis: a restart without persistence, every queued message gone (the sweepers send them again).
    # RabbitMQ (a private node): a real restart, its quorum queues keeping their messages; every connection drops.
    private_broker.stop()
    private_broker.start()

    settings.JOB_HEARTBEAT_TIMEOUT = 3

    def sweep():  # what beat does every few seconds
        runner.reap_stale_jobs()
        if not uses_rabbitmq(private_broker.url):  # RabbitMQ kept its messages: none may need sending again
            runner.redispatch_queued_jobs(older_than=2)

    wait_until(
        lambda: all(
            status in FINAL_STATUSES
            for status in GenerationJob.objects.filter(pk__in=[j.pk for j in jobs]).values_list("status", flat=True)
        ),
        timeout=300,
        message="all 50 jobs to finish",
        every=0.5,
        between=sweep,
    )
    assert worker.process.poll() is None, "the worker survived the broker restart"
    assert_invariants([user], jobs)
    assert GenerationJob.objects.filter(pk__in=[j.pk for j in jobs], status=JobStatus.SUCCEEDED).count() == 50


@postgres_only
def test_a_dropped_database_connection_under_the_worker_is_retried_to_success(worker, user, submit):
    job = submit(user, width=512, height=512, steps=20, seed=3)
    wait_until(lambda: running_past(job.pk, 2), message="the job to run")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        (terminated,) = cursor.fetchone()
    assert terminated >= 1
    job = wait_until(
        lambda: (j := GenerationJob.objects.get(pk=job.pk)).status in FINAL_STATUSES and j, message="the job to finish"
    )
    assert job.status == JobStatus.SUCCEEDED, job.last_error
    assert job.retry_count == 1 and job.images.count() == 1
    assert_invariants([user], [job])


@postgres_only
def test_a_storage_write_failure_fails_the_job_cleanly_and_releases_its_credits(start_worker, user, tmp_path, submit):
    broken = tmp_path / "data"
    broken.mkdir()
    (broken / "media").write_text("a file where the media folder should be")
    start_worker(ZIMAGE_DATA_DIR=str(broken))
    balance_before = user.credit_balance
    job = submit(user, num_images=2)
    job = wait_until(
        lambda: (j := GenerationJob.objects.get(pk=job.pk)).status in FINAL_STATUSES and j, message="the job to finish"
    )
    assert job.status == JobStatus.FAILED
    assert not job.images.exists()
    assert_invariants([user], [job])  # waits for the settlement
    assert user.credit_balance == balance_before
    assert not any(Path(broken).glob("media/**/*.png"))


@pytest.mark.timeout(600)
def test_a_job_that_kills_every_worker_it_reaches_ends_failed_after_the_cap_and_is_refunded_once(
    start_worker, settings, submit
):
    settings.JOB_MAX_DELIVERIES = 3
    settings.JOB_HEARTBEAT_TIMEOUT = 10  # the reaper's patience in this process; the worker beats every step
    worker = start_worker(JOB_MAX_DELIVERIES="3")
    user = UserFactory()
    balance_before = user.credit_balance
    job = submit(user, width=512, height=512, steps=12, seed=7)
    kills = 0
    while GenerationJob.objects.get(pk=job.pk).status not in FINAL_STATUSES:
        delivery = kills + 1
        running = wait_until(
            lambda: (
                (j := live_job(job.pk)).status in FINAL_STATUSES
                or (j.status == JobStatus.RUNNING and j.deliveries == delivery and j.progress_step >= 2)
            ),
            message=f"delivery {delivery} of the job to run, or the job to end",
            between=runner.reap_stale_jobs,  # what beat does: Celery drops a redelivered message whose worker died
        )
        assert running
        if GenerationJob.objects.get(pk=job.pk).status == JobStatus.RUNNING:
            for pid in worker.pool_pids():
                os.kill(pid, signal.SIGKILL)
            kills += 1
        assert kills <= 3, "the job was delivered past its cap"
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED, job.status
    assert kills == 3 and job.deliveries == 3 and not job.images.exists()
    assert_invariants([user], [job])  # waits for the settlement
    assert user.credit_balance == balance_before, "the reserved credits came back"
    assert not CreditEntry.objects.filter(job=job, kind=EntryKind.CHARGE).exists()
