"""The credits ledger: reservation at submit, settlement when a job finishes, grants; each exactly once."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts import services
from accounts.exceptions import InsufficientCredits, TooManyJobs
from accounts.models import CreditEntry, EntryKind, User
from generation import credits, runner
from generation import services as generation
from generation.models import GenerationJob, JobStatus

from ..factories import TemplateFactory, UserFactory
from .helpers import assert_ledger_matches_cache, entries

pytestmark = pytest.mark.django_db


def run_to(job, status, *, images_done=0):
    """Move a job as a worker would, without running the pipeline."""
    job.refresh_from_db()
    assert job.transition(JobStatus.RUNNING, worker_id="test:1")
    GenerationJob.objects.filter(pk=job.pk).update(images_done=images_done)
    job.refresh_from_db()
    if status == JobStatus.SUCCEEDED:
        assert job.transition(JobStatus.SUCCEEDED, images_done=job.num_images)
        credits.settle_job_credits(job=job)
    elif status == JobStatus.FAILED:
        assert runner.fail_job(job, "boom")
    elif status == JobStatus.CANCELED:
        generation.cancel_job(job=job)
    job.refresh_from_db()
    return job


class TestSubmitReserves:
    def test_submit_moves_the_cost_from_available_to_reserved(self, submit):
        user = UserFactory(credits=10)
        job = submit(user, num_images=3)
        user.refresh_from_db()
        assert job.credit_cost == 3
        assert (user.credit_balance, user.credits_reserved) == (7, 3)
        assert entries(job) == [(EntryKind.RESERVATION, -3, 3)]
        assert_ledger_matches_cache(user)

    def test_a_job_costing_more_than_the_balance_is_refused_and_nothing_is_written(self, submit):
        user = UserFactory(credits=2)
        with pytest.raises(InsufficientCredits) as refused:
            submit(user, num_images=3)
        assert (refused.value.balance, refused.value.cost) == (2, 3)
        assert not GenerationJob.objects.filter(owner=user).exists()
        user.refresh_from_db()
        assert (user.credit_balance, user.credits_reserved) == (2, 0)
        assert CreditEntry.objects.filter(user=user).count() == 1  # the grant only

    def test_reserving_the_same_job_twice_reserves_once(self, submit):
        user = UserFactory(credits=10)
        job = submit(user, num_images=2)
        with pytest.raises(IntegrityError), transaction.atomic():
            credits.admit_job(user=user, job=job)  # the ledger keeps one reservation per job
        user.refresh_from_db()
        assert (user.credit_balance, user.credits_reserved) == (8, 2)
        assert entries(job) == [(EntryKind.RESERVATION, -2, 2)]


class TestSettlement:
    def test_success_charges_the_whole_reservation(self, submit):
        user = UserFactory(credits=10)
        job = run_to(submit(user, num_images=2), JobStatus.SUCCEEDED)
        user.refresh_from_db()
        assert (user.credit_balance, user.credits_reserved) == (8, 0)
        assert entries(job) == [(EntryKind.CHARGE, 0, -2), (EntryKind.RESERVATION, -2, 2)]
        assert_ledger_matches_cache(user)

    def test_settling_twice_charges_once(self, submit):
        user = UserFactory(credits=10)
        job = run_to(submit(user, num_images=2), JobStatus.SUCCEEDED)
        assert credits.settle_job_credits(job=job) == []
        assert credits.settle_job_credits(job=job) == []
        assert CreditEntry.objects.filter(job=job, kind=EntryKind.CHARGE).count() == 1
        user.refresh_from_db()
        assert (user.credit_balance, user.credits_reserved) == (8, 0)

    def test_a_failed_job_releases_all_its_credits(self, submit):
        user = UserFactory(credits=10)
        job = run_to(submit(user, num_images=4), JobStatus.FAILED)
        user.refresh_from_db()
        assert (user.credit_balance, user.credits_reserved) == (10, 0)
        assert entries(job) == [(EntryKind.RELEASE, 4, -4), (EntryKind.RESERVATION, -4, 4)]
        assert_ledger_matches_cache(user)

    def test_a_job_failing_after_some_images_is_charged_for_those_only(self, submit):
        user = UserFactory(credits=10)
        run_to(submit(user, num_images=4), JobStatus.FAILED, images_done=1)
        user.refresh_from_db()
        assert (user.credit_balance, user.credits_reserved) == (9, 0)

    def test_cancel_after_k_of_n_images_charges_k(self, submit):
        user = UserFactory(credits=10)
        job = run_to(submit(user, num_images=4), JobStatus.CANCELED, images_done=3)
        assert job.status == JobStatus.CANCELED
        user.refresh_from_db()
        assert (user.credit_balance, user.credits_reserved) == (7, 0)
        assert entries(job) == [(EntryKind.CHARGE, 0, -3), (EntryKind.RELEASE, 1, -1), (EntryKind.RESERVATION, -4, 4)]
        assert_ledger_matches_cache(user)

    def test_canceling_a_queued_job_releases_everything(self, submit):
        user = UserFactory(credits=10)
        job = generation.cancel_job(job=submit(user, num_images=2))
        assert job.status == JobStatus.CANCELED
        user.refresh_from_db()
        assert (user.credit_balance, user.credits_reserved) == (10, 0)

    def test_a_template_cost_per_image_is_charged_per_image_produced(self):
        user = UserFactory(credits=20)
        job = generation.submit_job(user=user, prompt="x", template=TemplateFactory(credit_cost=3), num_images=2)
        assert job.credit_cost == 6
        run_to(job, JobStatus.CANCELED, images_done=1)
        user.refresh_from_db()
        assert (user.credit_balance, user.credits_reserved) == (17, 0)

    def test_an_unfinished_job_is_not_settled(self, submit):
        user = UserFactory(credits=10)
        job = submit(user)
        with pytest.raises(ValueError, match="only a finished job"):
            credits.settle_job_credits(job=job)

    def test_the_sweeper_settles_a_finished_job_whose_settlement_was_lost(self, submit):
        user = UserFactory(credits=10)
        job = submit(user, num_images=2)
        job.transition(JobStatus.RUNNING, worker_id="test:1")
        job.transition(JobStatus.SUCCEEDED, images_done=2)  # the process died before settling
        assert credits.settle_finished_jobs() == 1
        assert credits.settle_finished_jobs() == 0
        user.refresh_from_db()
        assert (user.credit_balance, user.credits_reserved) == (8, 0)

    def test_the_database_refuses_a_second_charge_for_a_job(self, submit):
        user = UserFactory(credits=10)
        job = run_to(submit(user), JobStatus.SUCCEEDED)
        with pytest.raises(IntegrityError), transaction.atomic():
            CreditEntry.objects.create(
                user=user,
                kind=EntryKind.CHARGE,
                amount=0,
                reserved_change=-1,
                reason="x",
                idempotency_key="other",
                job=job,
            )


class TestBalanceInvariants:
    def test_the_database_refuses_a_negative_balance(self):
        user = UserFactory(credits=1)
        with pytest.raises(IntegrityError), transaction.atomic():
            User.objects.filter(pk=user.pk).update(credit_balance=-1)

    def test_the_database_refuses_an_entry_whose_amounts_do_not_match_its_kind(self):
        user = UserFactory(credits=0)
        with pytest.raises(IntegrityError), transaction.atomic():
            CreditEntry.objects.create(user=user, kind=EntryKind.GRANT, amount=-5, reason="x", idempotency_key="neg")


class TestGrants:
    def test_a_grant_adds_to_the_balance_with_its_reason(self):
        user = UserFactory(credits=0)
        entry = services.grant_credits(user=user, amount=50, reason="Goodwill", idempotency_key="g-1")
        assert (entry.kind, entry.amount, entry.reason) == (EntryKind.GRANT, 50, "Goodwill")
        assert user.credit_balance == 50
        assert_ledger_matches_cache(user)

    def test_the_same_idempotency_key_grants_once(self):
        user = UserFactory(credits=0)
        first = services.grant_credits(user=user, amount=50, reason="Goodwill", idempotency_key="g-1")
        again = services.grant_credits(user=user, amount=50, reason="Goodwill", idempotency_key="g-1")
        assert first.pk == again.pk
        user.refresh_from_db()
        assert user.credit_balance == 50

    def test_a_key_reused_for_a_different_grant_is_refused(self):
        user = UserFactory(credits=0)
        services.grant_credits(user=user, amount=50, reason="Goodwill", idempotency_key="g-1")
        with pytest.raises(ValidationError):
            services.grant_credits(user=user, amount=60, reason="Goodwill", idempotency_key="g-1")

    @pytest.mark.parametrize("amount", [0, -5])
    def test_a_grant_must_be_positive(self, amount):
        with pytest.raises(ValidationError):
            services.grant_credits(user=UserFactory(), amount=amount, reason="x", idempotency_key="k")

    def test_a_refund_is_recorded_as_a_refund(self):
        user = UserFactory(credits=0)
        entry = services.grant_credits(
            user=user, amount=3, reason="Bad render", idempotency_key="r-1", kind=EntryKind.REFUND
        )
        assert entry.kind == EntryKind.REFUND and user.credit_balance == 3


class TestPlanLimits:
    def test_more_images_than_the_plan_allows_is_refused(self, set_tier, submit):
        set_tier("free", max_images_per_job=2)
        user = UserFactory()
        with pytest.raises(ValidationError) as refused:
            submit(user, num_images=3)
        assert "num_images" in refused.value.message_dict
        assert not GenerationJob.objects.filter(owner=user).exists()

    def test_a_side_larger_than_the_plan_allows_is_refused(self, set_tier, submit):
        set_tier("free", max_side=512)
        user = UserFactory()
        with pytest.raises(ValidationError) as refused:
            submit(user, width=768)
        assert "width" in refused.value.message_dict

    def test_a_better_plan_lifts_the_limit(self, set_tier, submit):
        set_tier("free", max_side=512)
        set_tier("pro", max_side=2048)
        job = submit(UserFactory(tier="pro"), width=768)
        assert job.width == 768

    def test_past_the_queued_limit_a_submit_is_refused_with_a_retry_time(self, set_tier, submit):
        set_tier("free", max_queued_jobs=2, max_running_jobs=1)
        user = UserFactory()
        submit(user)
        submit(user)
        with pytest.raises(TooManyJobs) as refused:
            submit(user)
        assert refused.value.retry_after > 0
        user.refresh_from_db()
        assert GenerationJob.objects.filter(owner=user).count() == 2
        assert user.credits_reserved == 2

    def test_running_jobs_count_toward_the_limit(self, set_tier, submit):
        set_tier("free", max_queued_jobs=1, max_running_jobs=1)
        user = UserFactory()
        first = submit(user)
        first.transition(JobStatus.RUNNING, worker_id="test:1")
        submit(user)  # one running + one waiting: allowed
        with pytest.raises(TooManyJobs):
            submit(user)

    def test_finished_jobs_free_their_slot(self, set_tier, submit):
        set_tier("free", max_queued_jobs=1, max_running_jobs=1)
        user = UserFactory()
        generation.cancel_job(job=submit(user))
        submit(user)
