"""Staff actions on users: grant or refund credits with a reason (once per form), suspend and reactivate."""

import pytest

from accounts import services
from accounts.models import CreditEntry, EntryKind
from generation.models import GenerationJob, JobStatus

from ..factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/accounts/user/"


def select(action, *users):
    return {"action": action, "_selected_action": [user.pk for user in users]}


class TestGrantOrRefund:
    def test_a_refund_with_a_reason_is_written_once_per_form_even_when_submitted_twice(self, staff_client, staff):
        user = UserFactory(credits=0)
        page = staff_client.post(CHANGELIST, select("grant_credits", user))  # the action's form page
        assert page.status_code == 200
        token = page.context["form"].initial["token"]
        apply = select("grant_credits", user) | {"apply": "1", "kind": "refund", "amount": "12", "reason": "Bad render"}
        for _ in range(2):
            assert staff_client.post(CHANGELIST, apply | {"token": token}).status_code == 302
        entry = CreditEntry.objects.get(user=user)
        assert (entry.kind, entry.amount, entry.reason, entry.created_by) == (EntryKind.REFUND, 12, "Bad render", staff)
        # A new form is a new grant.
        token = staff_client.post(CHANGELIST, select("grant_credits", user)).context["form"].initial["token"]
        staff_client.post(CHANGELIST, apply | {"token": token})
        user.refresh_from_db()
        assert user.credit_balance == 24

    def test_a_missing_reason_shows_the_form_again_and_writes_nothing(self, staff_client):
        user = UserFactory(credits=0)
        token = staff_client.post(CHANGELIST, select("grant_credits", user)).context["form"].initial["token"]
        apply = select("grant_credits", user) | {"apply": "1", "kind": "grant", "amount": "5", "token": token}
        response = staff_client.post(CHANGELIST, apply | {"reason": ""})
        assert response.status_code == 200 and "reason" in response.context["form"].errors
        assert not CreditEntry.objects.filter(user=user).exists()


class TestSuspend:
    def test_a_suspended_user_is_inactive_and_their_queued_jobs_are_canceled_and_refunded(self, staff_client, submit):
        user = UserFactory()
        queued = submit(user, num_images=2)
        running = submit(user)
        running.transition(JobStatus.RUNNING, worker_id="w:1")
        for _ in range(2):
            assert staff_client.post(CHANGELIST, select("suspend_users", user)).status_code == 302
        user.refresh_from_db()
        queued.refresh_from_db()
        assert not user.is_active
        assert queued.status == JobStatus.CANCELED
        assert GenerationJob.objects.get(pk=running.pk).status == JobStatus.RUNNING
        assert CreditEntry.objects.filter(job=queued, kind=EntryKind.RELEASE).get().amount == 2
        assert (user.credit_balance, user.credits_reserved) == (999, 1)

    def test_a_suspended_user_can_no_longer_use_their_session_or_api_key(self, client):
        user = UserFactory()
        _, raw_key = services.create_api_key(user=user, name="ci")
        client.force_login(user)
        services.suspend_user(user=user)
        assert client.get("/api/v1/jobs").status_code in (401, 403)
        assert client.get("/api/v1/jobs", headers={"Authorization": f"Api-Key {raw_key}"}).status_code == 401

    def test_staff_cannot_suspend_themselves_by_mistake(self, staff_client, staff):
        response = staff_client.post(CHANGELIST, select("suspend_users", staff), follow=True)
        staff.refresh_from_db()
        assert staff.is_active
        assert "cannot suspend your own account" in response.content.decode()

    def test_reactivating_lets_the_user_back_in(self, staff_client):
        user = UserFactory()
        services.suspend_user(user=user)
        staff_client.post(CHANGELIST, select("reactivate_users", user))
        user.refresh_from_db()
        assert user.is_active
