"""Concurrent submits against real PostgreSQL: real threads, each with its own database connection."""

import threading
from collections import Counter

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.exceptions import InsufficientCredits
from accounts.models import CreditEntry, EntryKind
from generation.models import GenerationJob

from ..factories import JOB_REQUEST, UserFactory
from .helpers import assert_ledger_matches_cache

THREADS = 20

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")


def in_threads(work, n=THREADS):
    """Run `work(i)` in n threads released together; returns results (or the exception raised) in order."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as error:  # collected, asserted on by the test
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_twenty_concurrent_submits_on_a_balance_worth_ten_accept_exactly_ten(transactional_db, submit):
    user = UserFactory(credits=10, tier="enterprise")  # its queue limit is not what this test is about

    results = in_threads(lambda i: submit(user, seed=i))

    outcomes = Counter(type(result).__name__ for result in results)
    assert outcomes == {"GenerationJob": 10, "InsufficientCredits": 10}, results
    assert all(result.balance == 0 for result in results if isinstance(result, InsufficientCredits))
    user.refresh_from_db()
    assert (user.credit_balance, user.credits_reserved) == (0, 10)
    assert GenerationJob.objects.filter(owner=user).count() == 10
    assert CreditEntry.objects.filter(user=user, kind=EntryKind.RESERVATION).count() == 10
    assert_ledger_matches_cache(user)


def test_twenty_concurrent_requests_with_one_idempotency_key_make_one_job(transactional_db):
    user = UserFactory(credits=100, tier="enterprise")

    def post(i):
        client = APIClient()
        client.force_authenticate(user)
        return client.post("/api/v1/jobs", JOB_REQUEST, format="json", HTTP_IDEMPOTENCY_KEY="order-42")

    responses = in_threads(post)

    assert [getattr(response, "status_code", response) for response in responses] == [202] * THREADS
    bodies = {response.content for response in responses}
    assert len(bodies) == 1
    assert GenerationJob.objects.filter(owner=user).count() == 1
    assert CreditEntry.objects.filter(user=user, kind=EntryKind.RESERVATION).count() == 1
    user.refresh_from_db()
    assert (user.credit_balance, user.credits_reserved) == (99, 1)


def test_settling_one_job_from_many_threads_charges_once(transactional_db, submit):
    from generation.credits import settle_job_credits
    from generation.models import JobStatus

    user = UserFactory(credits=10)
    job = submit(user, num_images=2)
    job.transition(JobStatus.RUNNING, worker_id="test:1")
    job.transition(JobStatus.SUCCEEDED, images_done=2)

    in_threads(lambda i: settle_job_credits(job=job), n=8)

    assert CreditEntry.objects.filter(job=job, kind=EntryKind.CHARGE).count() == 1
    user.refresh_from_db()
    assert (user.credit_balance, user.credits_reserved) == (8, 0)
    assert_ledger_matches_cache(user)
