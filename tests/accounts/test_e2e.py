"""End-to-end: submit through the API, a real worker process runs the job, the ledger settles once."""

import pytest
from rest_framework.test import APIClient

from accounts.models import CreditEntry, EntryKind
from generation.models import JobStatus

from ..factories import JOB_REQUEST, UserFactory
from ..waiting import job_when
from .helpers import assert_ledger_matches_cache

pytestmark = pytest.mark.e2e


def settled(job) -> bool:
    return job.is_final and CreditEntry.objects.filter(job=job, kind__in=[EntryKind.CHARGE, EntryKind.RELEASE]).exists()


def test_a_job_run_by_a_worker_is_charged_exactly_its_cost(worker):
    user = UserFactory(credits=10)
    client = APIClient()
    client.force_authenticate(user)

    response = client.post("/api/v1/jobs", JOB_REQUEST | {"num_images": 2}, format="json")
    assert response.status_code == 202, response.content
    assert client.get("/api/v1/me").json()["reserved"] == 2

    job = job_when(response.json()["id"], settled, timeout=60)
    assert job.status == JobStatus.SUCCEEDED, job.last_error
    user.refresh_from_db()
    assert (user.credit_balance, user.credits_reserved) == (8, 0)
    kinds = sorted(CreditEntry.objects.filter(job=job).values_list("kind", "reserved_change"))
    assert kinds == [(EntryKind.CHARGE, -2), (EntryKind.RESERVATION, 2)]
    assert_ledger_matches_cache(user)
