"""Fair scheduling end to end: one real worker process (tiny pipeline, one step) drains two owners' jobs."""

from __future__ import annotations

import pytest

from generation.models import GenerationJob, JobStatus
from tests.factories import UserFactory
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

FAST = {"steps": 1, "width": 256, "height": 256}


def test_with_one_worker_b_queued_after_as_fifty_is_among_the_next_two_started(submit, start_worker):
    a, b = UserFactory(tier="enterprise"), UserFactory(tier="enterprise")  # one weight; enterprise queues 100
    start_worker(concurrency=1)
    a_jobs = [submit(a, **FAST) for _ in range(50)]
    started_before = set(GenerationJob.objects.filter(owner=a, started_at__isnull=False).values_list("pk", flat=True))
    b_job = submit(b, **FAST)

    wait_until(
        lambda: GenerationJob.objects.get(pk=b_job.pk).status == JobStatus.SUCCEEDED,
        timeout=120,
        message="b's job to succeed",
    )
    b_started = GenerationJob.objects.get(pk=b_job.pk).started_at
    a_started_between = GenerationJob.objects.filter(
        pk__in=[job.pk for job in a_jobs], started_at__lt=b_started
    ).exclude(pk__in=started_before)
    assert a_started_between.count() <= 1  # B's job is among the next two started after it was queued
    wait_until(
        lambda: not GenerationJob.objects.filter(owner=a).exclude(status=JobStatus.SUCCEEDED).exists(),
        timeout=240,
        message="a's jobs to succeed",
    )
    assert GenerationJob.objects.filter(owner=a).values_list("deliveries", flat=True).distinct().get() == 1
