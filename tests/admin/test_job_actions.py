"""Staff actions on jobs: each calls one service, and doing it twice changes nothing more."""

import pytest
from django.core.exceptions import ValidationError

from accounts.models import CreditEntry, EntryKind
from generation import credits, runner, services
from generation.models import GenerationJob, JobStatus

from ..factories import TemplateFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/generation/generationjob/"


def run_action(client, action, *jobs, follow=False):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [job.pk for job in jobs]}, follow=follow)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


class TestCancel:
    def test_queued_jobs_are_canceled_and_their_reservation_released_once(self, staff_client, user, submit):
        queued, done = submit(user), submit(user)
        done.transition(JobStatus.RUNNING)
        done.transition(JobStatus.SUCCEEDED, images_done=1)
        credits.settle_job_credits(job=done)
        for _ in range(2):
            assert run_action(staff_client, "cancel_jobs", queued, done).status_code == 302
        queued.refresh_from_db()
        done.refresh_from_db()
        assert (queued.status, done.status) == (JobStatus.CANCELED, JobStatus.SUCCEEDED)
        assert CreditEntry.objects.filter(job=queued, kind=EntryKind.RELEASE).count() == 1
        user.refresh_from_db()
        assert (user.credit_balance, user.credits_reserved) == (999, 0)


class TestRetry:
    @pytest.fixture
    def failed(self, submit):
        """`failed(user, **fields)`: a submitted job that the worker failed."""

        def fail(user, **fields):
            job = submit(user, **fields)
            runner.fail_job(job, "CUDA out of memory")
            return job

        return fail

    def test_a_failed_job_is_retried_once_as_a_new_job_with_the_same_inputs(self, staff_client, user, failed):
        job = failed(user, seed=42, num_images=2, negative_prompt="text")
        response = run_action(staff_client, "retry_failed_jobs", job, follow=True)
        retry = GenerationJob.objects.get(retry_of=job)
        assert f"as job(s) {retry.pk}" in messages_of(response)[0]
        assert retry.status == JobStatus.QUEUED
        same = ("prompt", "negative_prompt", "production_path", "width", "height", "steps", "seed", "num_images")
        assert [getattr(retry, name) for name in same] == [getattr(job, name) for name in same]
        assert CreditEntry.objects.filter(job=retry, kind=EntryKind.RESERVATION).get().reserved_change == 2

    def test_retrying_twice_makes_one_job_and_one_reservation(self, staff_client, user, failed):
        job = failed(user)
        run_action(staff_client, "retry_failed_jobs", job)
        run_action(staff_client, "retry_failed_jobs", job)
        assert GenerationJob.objects.filter(owner=user).count() == 2
        assert services.retry_job(job=job) == GenerationJob.objects.get(retry_of=job)
        user.refresh_from_db()
        assert (user.credit_balance, user.credits_reserved) == (999, 1)

    def test_a_template_job_takes_what_the_template_fixes_from_the_template(self, user, submit):
        template = TemplateFactory(overridable=["seed"])
        job = submit(user, production_path=None, template=template, seed=9, width=None, height=None, steps=None)
        runner.fail_job(job, "boom")
        retry = services.retry_job(job=job)
        assert (retry.template, retry.seed, retry.width, retry.steps) == (template, 9, 256, 4)

    def test_only_failed_jobs_are_retried(self, staff_client, user, submit):
        queued = submit(user)
        response = run_action(staff_client, "retry_failed_jobs", queued, follow=True)
        assert messages_of(response) == ["No failed job was selected."]
        assert not GenerationJob.objects.filter(retry_of=queued).exists()

    def test_a_job_whose_template_was_retired_is_reported_not_retried(self, staff_client, user, submit):
        template = TemplateFactory()
        job = submit(user, production_path=None, template=template, width=None, height=None, steps=None)
        runner.fail_job(job, "boom")
        template.is_active = False
        template.save()
        response = run_action(staff_client, "retry_failed_jobs", job, follow=True)
        assert "not available" in messages_of(response)[0]
        assert GenerationJob.objects.filter(owner=user).count() == 1

    def test_a_suspended_owners_job_is_not_retried(self, user, failed):
        job = failed(user)
        user.is_active = False
        user.save()
        with pytest.raises(ValidationError, match="suspended"):
            services.retry_job(job=job)


class TestRedispatch:
    def test_a_stuck_queued_job_is_sent_again_under_a_new_token(self, staff_client, user, broker, submit):
        job = submit(user)
        running = submit(UserFactory())
        running.transition(JobStatus.RUNNING, worker_id="w:1")
        assert broker.llen("gen.fashion") == 0
        run_action(staff_client, "redispatch_queued_jobs", job, running)
        fresh = GenerationJob.objects.get(pk=job.pk)
        assert fresh.dispatch_token != job.dispatch_token and fresh.dispatched_at is not None
        assert broker.llen("gen.fashion") == 1
        # The earlier message (had there been one) is now stale: a worker receiving it does nothing.
        assert runner.execute_job(job_id=job.pk, dispatch_token=str(job.dispatch_token)) == "stale"
        assert GenerationJob.objects.get(pk=running.pk).dispatch_token == running.dispatch_token


class TestInKorean:
    def test_the_job_page_and_an_actions_report_are_in_the_staff_members_language(
        self, staff_client, staff, user, submit
    ):
        staff.language = "ko"
        staff.save(update_fields=["language"])
        job = submit(user)
        page = staff_client.get(f"{CHANGELIST}{job.pk}/change/").content.decode()
        assert "크레딧 원장" in page and "처리 시간" in page
        assert "Credit ledger" not in page
        response = run_action(staff_client, "cancel_jobs", job, follow=True)
        assert messages_of(response) == ["작업 1개를 취소했습니다. 이미 끝난 작업은 그대로 두었습니다."]
