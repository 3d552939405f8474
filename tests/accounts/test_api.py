"""HTTP answers of the credits and limits rules, the profile and ledger endpoints, and sign-up."""

import pytest
from django.core import mail
from rest_framework.test import APIClient

from accounts.models import CreditEntry, EntryKind, User
from generation.models import GenerationJob

from ..conftest import client_for
from ..factories import JOB_REQUEST, UserFactory

pytestmark = pytest.mark.django_db


class TestSubmitAnswers:
    def test_a_submit_without_enough_credits_is_402_with_balance_and_cost(self):
        user = UserFactory(credits=1)
        response = client_for(user).post("/api/v1/jobs", JOB_REQUEST | {"num_images": 3}, format="json")
        assert response.status_code == 402
        error = response.json()["error"]
        assert (error["code"], error["balance"], error["cost"]) == ("insufficient_credits", 1, 3)
        assert not GenerationJob.objects.filter(owner=user).exists()

    def test_a_submit_past_the_queue_limit_is_429_with_retry_after(self, set_tier):
        set_tier("free", max_queued_jobs=1, max_running_jobs=1)
        client = client_for(UserFactory())
        assert client.post("/api/v1/jobs", JOB_REQUEST, format="json").status_code == 202
        response = client.post("/api/v1/jobs", JOB_REQUEST, format="json")
        assert response.status_code == 429
        assert int(response["Retry-After"]) > 0
        assert response.json()["error"]["code"] == "too_many_jobs"

    def test_more_images_than_the_plan_allows_is_400_on_the_field(self, set_tier):
        set_tier("free", max_images_per_job=1)
        response = client_for(UserFactory()).post("/api/v1/jobs", JOB_REQUEST | {"num_images": 2}, format="json")
        assert response.status_code == 400
        assert "num_images" in response.json()["error"]["fields"]

    def test_the_accepted_job_reports_its_cost_and_the_balance_drops(self):
        user = UserFactory(credits=10)
        response = client_for(user).post("/api/v1/jobs", JOB_REQUEST | {"num_images": 2}, format="json")
        assert response.status_code == 202
        assert response.json()["credit_cost"] == 2
        user.refresh_from_db()
        assert (user.credit_balance, user.credits_reserved) == (8, 2)


class TestMe:
    def test_me_shows_balance_reserved_tier_and_limits(self):
        user = UserFactory(credits=10)
        client = client_for(user)
        client.post("/api/v1/jobs", JOB_REQUEST | {"num_images": 2}, format="json")
        body = client.get("/api/v1/me").json()
        assert (body["email"], body["tier"], body["balance"], body["reserved"]) == (user.email, "free", 8, 2)
        assert set(body["limits"]) >= {"monthly_credits", "max_queued_jobs", "submit_rate", "max_side"}

    def test_the_ledger_is_paginated_newest_first_and_only_mine(self):
        user = UserFactory(credits=0)
        other = UserFactory(credits=5)
        for n in range(25):
            CreditEntry.objects.create(
                user=user, kind=EntryKind.GRANT, amount=1, reason=f"#{n}", idempotency_key=f"t{n}"
            )
        client = client_for(user)
        page = client.get("/api/v1/me/ledger").json()
        assert page["count"] == 25 and len(page["results"]) == 20
        assert page["results"][0]["reason"] == "#24"
        assert page["next"]
        assert client.get("/api/v1/me/ledger?page=2").json()["results"][-1]["reason"] == "#0"
        assert not CreditEntry.objects.filter(user=other, reason__startswith="#").exists()

    def test_anonymous_callers_are_refused(self):
        assert APIClient().get("/api/v1/me").status_code == 401


class TestSignUp:
    def test_sign_up_creates_an_unconfirmed_free_account_and_mails_its_link(self):
        response = APIClient().post(
            "/api/v1/auth/signup", {"email": "New@Example.com", "password": "a long passphrase 42"}, format="json"
        )
        assert response.status_code == 202, response.content
        user = User.objects.get(email="new@example.com")
        assert (user.tier, user.is_email_verified, user.credit_balance) == ("free", False, 0)
        assert not CreditEntry.objects.filter(user=user).exists()
        assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new@example.com"]
        assert "/accounts/verify/" in mail.outbox[0].body

    def test_a_weak_password_is_refused_on_the_password_field(self):
        response = APIClient().post("/api/v1/auth/signup", {"email": "a@example.com", "password": "123"}, format="json")
        assert response.status_code == 400
        assert "password" in response.json()["error"]["fields"]
        assert not User.objects.filter(email="a@example.com").exists()

    def test_a_registered_address_gets_the_same_answer_and_its_owner_an_email(self):
        UserFactory(email="taken@example.com")
        answers = [
            APIClient().post("/api/v1/auth/signup", {"email": email, "password": "a long passphrase 42"}, format="json")
            for email in ("TAKEN@example.com", "free@example.com")
        ]
        assert [answer.status_code for answer in answers] == [202, 202]
        assert {key for answer in answers for key in answer.json()} == {"detail"}
        assert User.objects.filter(email="taken@example.com").count() == 1
        taken = next(message for message in mail.outbox if message.to == ["taken@example.com"])
        assert "already has one" in taken.body and "/accounts/password-reset/" in taken.body


class TestThrottling:
    def test_submits_past_the_plans_rate_get_429_with_retry_after(self, set_tier):
        set_tier("free", submit_rate="3/min")
        client = client_for(UserFactory())
        codes = [client.post("/api/v1/jobs", JOB_REQUEST, format="json").status_code for _ in range(4)]
        assert codes == [202, 202, 202, 429]
        response = client.post("/api/v1/jobs", JOB_REQUEST, format="json")
        assert response.status_code == 429 and int(response["Retry-After"]) > 0
        assert response.json()["error"]["code"] == "throttled"

    def test_reads_have_their_own_rate(self, set_tier):
        set_tier("free", submit_rate="1/min", read_rate="100/min")
        client = client_for(UserFactory())
        client.post("/api/v1/jobs", JOB_REQUEST, format="json")
        assert client.post("/api/v1/jobs", JOB_REQUEST, format="json").status_code == 429
        assert client.get("/api/v1/jobs").status_code == 200

    def test_a_rate_store_that_does_not_answer_lets_requests_through(self, set_tier, settings):
        set_tier("free", read_rate="1/min")
        client = client_for(UserFactory())
        settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
        assert [client.get("/api/v1/me").status_code for _ in range(3)] == [200, 200, 200]

    def test_a_better_plan_has_a_higher_rate(self, set_tier):
        set_tier("free", submit_rate="1/min")
        set_tier("pro", submit_rate="100/min")
        client = client_for(UserFactory(tier="pro"))
        assert [client.post("/api/v1/jobs", JOB_REQUEST, format="json").status_code for _ in range(2)] == [202, 202]
