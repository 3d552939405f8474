"""Staff and scheduled ways of granting credits: the monthly beat task, the command, the admin action."""

import uuid

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import CommandError, call_command

from accounts import services, tasks
from accounts.models import CreditEntry, EntryKind

from ..factories import UserFactory

pytestmark = pytest.mark.django_db


class TestMonthlyGrant:
    def test_each_active_user_gets_their_plans_grant_once_a_month(self, set_tier):
        set_tier("free", monthly_credits=100)
        set_tier("pro", monthly_credits=2000)
        free, pro = UserFactory(credits=0), UserFactory(credits=0, tier="pro")
        inactive = UserFactory(credits=0, is_active=False)
        assert services.grant_monthly_credits(month="2026-11") == 2
        assert services.grant_monthly_credits(month="2026-11") == 0
        for user, expected in ((free, 100), (pro, 2000), (inactive, 0)):
            user.refresh_from_db()
            assert user.credit_balance == expected
        entry = CreditEntry.objects.get(user=pro)
        assert entry.idempotency_key == f"monthly:{pro.pk}:2026-11"
        assert "2026-11" in entry.reason

    def test_a_new_month_grants_again(self, set_tier):
        set_tier("free", monthly_credits=100)
        user = UserFactory(credits=0)
        services.grant_monthly_credits(month="2026-11")
        services.grant_monthly_credits(month="2026-12")
        user.refresh_from_db()
        assert user.credit_balance == 200

    def test_the_beat_task_grants_this_month(self, set_tier):
        set_tier("free", monthly_credits=100)
        user = UserFactory(credits=0)
        assert tasks.grant_monthly_credits.apply().get() >= 1
        assert tasks.grant_monthly_credits.apply().get() == 0
        user.refresh_from_db()
        assert user.credit_balance == 100
        assert CreditEntry.objects.get(user=user).idempotency_key == f"monthly:{user.pk}:{services.month_key()}"

    def test_a_user_who_signed_up_this_month_is_not_granted_twice(self, set_tier):
        set_tier("free", monthly_credits=100)
        user = services.sign_up(
            email="fresh@example.com", password="a long passphrase 42", site_url="http://testserver"
        )
        token = mail.outbox[0].body.split("/accounts/verify/")[1].split("/")[0]
        services.verify_email(token=token)
        services.grant_monthly_credits()
        user.refresh_from_db()
        assert user.credit_balance == 100

    def test_the_beat_schedule_runs_the_accounts_tasks(self):
        tasks_scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
        assert {
            "accounts.grant_monthly_credits",
            "generation.settle_finished_jobs",
            "accounts.purge_idempotency_keys",
        } <= tasks_scheduled


class TestGrantCommand:
    def test_the_command_grants_with_a_reason(self, capsys):
        user = UserFactory(credits=0)
        call_command("grant_credits", user.email.upper(), "25", "--reason", "Launch promo")
        user.refresh_from_db()
        assert user.credit_balance == 25
        assert CreditEntry.objects.get(user=user).reason == "Launch promo"
        assert "balance 25" in capsys.readouterr().out

    def test_the_same_idempotency_key_grants_once(self):
        user = UserFactory(credits=0)
        for _ in range(2):
            call_command("grant_credits", user.email, "25", "--reason", "Promo", "--idempotency-key", "promo-1")
        user.refresh_from_db()
        assert user.credit_balance == 25

    def test_a_refund_is_recorded_as_one(self):
        user = UserFactory(credits=0)
        call_command("grant_credits", user.email, "3", "--reason", "Broken render", "--refund")
        assert CreditEntry.objects.get(user=user).kind == EntryKind.REFUND

    def test_an_unknown_email_or_bad_amount_is_an_error(self):
        with pytest.raises(CommandError):
            call_command("grant_credits", "nobody@example.com", "5", "--reason", "x")
        with pytest.raises(CommandError):
            call_command("grant_credits", UserFactory().email, "0", "--reason", "x")


class TestAdminAction:
    def test_the_action_asks_for_an_amount_and_reason_then_grants_each_selected_user(self, admin_client):
        users = [UserFactory(credits=0), UserFactory(credits=0)]
        selected = {"action": "grant_credits", "_selected_action": [user.pk for user in users]}
        form = admin_client.post("/admin/accounts/user/", selected)
        assert form.status_code == 200 and b"Grant or refund credits" in form.content
        token = form.context["form"].initial["token"]
        apply = selected | {
            "apply": "1",
            "kind": "grant",
            "amount": "40",
            "reason": "Support ticket #12",
            "token": token,
        }
        assert admin_client.post("/admin/accounts/user/", apply).status_code == 302
        assert admin_client.post("/admin/accounts/user/", apply).status_code == 302  # a double submit
        for user in users:
            user.refresh_from_db()
            assert user.credit_balance == 40
            entry = CreditEntry.objects.get(user=user)
            assert entry.reason == "Support ticket #12" and entry.created_by.is_superuser

    def test_the_user_page_shows_the_ledger(self, admin_client):
        user = UserFactory(credits=0)
        services.grant_credits(user=user, amount=7, reason="Welcome bonus", idempotency_key=str(uuid.uuid4()))
        page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/")
        assert page.status_code == 200
        assert b"Welcome bonus" in page.content

    @pytest.mark.parametrize("model", ["creditentry", "tier", "apikey", "idempotencyrecord"])
    def test_the_accounts_models_have_admin_pages(self, admin_client, model):
        assert admin_client.get(f"/admin/accounts/{model}/").status_code == 200
