"""The credit ledger's reasons (#22): stored in English as the record, shown in the reader's language; a reason
staff typed stays as written; the credit history's dates follow the reader's locale."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format
from django.utils.timezone import localtime

from accounts import services
from accounts.models import CreditEntry, EntryKind
from generation.credits import settle_job_credits
from generation.models import GenerationJob, JobStatus

from ..conftest import client_for
from ..factories import UserFactory

pytestmark = pytest.mark.django_db


def korean_profile(user) -> str:
    user.language = "ko"
    user.save(update_fields=["language"])
    client = Client()
    client.force_login(user)
    return client.get(reverse("accounts:profile")).content.decode()


def test_a_jobs_reservation_and_settlement_are_stored_in_english_and_read_in_korean(user, submit):
    job = submit(user, num_images=2)
    GenerationJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, images_done=1)
    settle_job_credits(job=job)
    entries = {entry.kind: entry for entry in CreditEntry.objects.filter(job=job)}
    assert entries[EntryKind.RESERVATION].reason == f"Job {job.pk}: 2 image(s) reserved"
    assert entries[EntryKind.CHARGE].reason == f"Job {job.pk} failed: 1 of 2 image(s) produced"
    with translation.override("ko"):
        assert entries[EntryKind.RESERVATION].description == "이미지 2장 예약"
        assert entries[EntryKind.RELEASE].description == "실패: 이미지 2장 중 1장 생성"
    with translation.override("en"):
        assert entries[EntryKind.RESERVATION].description == "2 images reserved"
        assert entries[EntryKind.CHARGE].description == "Failed: 1 of 2 images made"
    page = korean_profile(user)
    assert "이미지 2장 예약" in page
    assert "image(s)" not in page


def test_a_monthly_grant_names_the_plan_in_the_readers_language(set_tier):
    set_tier("pro", monthly_credits=2000)
    user = UserFactory(credits=0, tier="pro")
    with translation.override("ko"):  # a grant written while a Korean request is active stays English
        entry = services.grant_monthly_credit(user=user, month="2026-11")
    assert entry is not None
    assert entry.reason == "Monthly Pro credits for 2026-11"
    with translation.override("ko"):
        assert entry.description == "2026-11 프로 요금제 월간 크레딧"
    with translation.override("en"):
        assert entry.description == "Monthly Pro plan credits for 2026-11"


def test_a_reason_staff_typed_is_shown_as_written(user):
    entry = services.grant_credits(user=user, amount=5, reason="Support ticket #12", idempotency_key="t-12")
    with translation.override("ko"):
        assert entry.description == "Support ticket #12"


def test_the_credit_history_dates_follow_the_readers_locale(user):
    entry = user.credit_entries.get()
    page = korean_profile(user)
    with translation.override("ko"):
        shown = date_format(localtime(entry.created_at), "SHORT_DATETIME_FORMAT")
    assert shown.startswith(f"{entry.created_at.year}-{entry.created_at.month}-")  # Korean: 2026-12-2 20:59
    assert f">{shown}</time>" in page


def test_the_api_ledger_keeps_the_reason_and_describes_it_in_the_callers_language(user, submit):
    job = submit(user, num_images=2)
    entry = client_for(user).get("/api/v1/me/ledger", HTTP_ACCEPT_LANGUAGE="ko").json()["results"][0]
    assert entry["reason"] == f"Job {job.pk}: 2 image(s) reserved"
    assert entry["description"] == "이미지 2장 예약"
