"""Sign-up abuse: confirmation before free credits, the same answer for registered addresses, a rate per client
address on the website and the API, and passwords that are only spaces or common refused on every path."""

import re

import pytest
from django.core import mail, signing
from django.test import override_settings
from rest_framework.test import APIClient

from accounts import services
from accounts.models import CreditEntry, User

from ..factories import PASSWORD as FACTORY_PASSWORD
from ..factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a long passphrase 42"
SITE = "http://testserver"


def website_sign_up(client, email: str, password: str = PASSWORD, **extra):
    return client.post("/accounts/signup/", {"email": email, "password1": password, "password2": password}, **extra)


def api_sign_up(email: str, password: str = PASSWORD, **extra):
    return APIClient().post("/api/v1/auth/signup", {"email": email, "password": password}, format="json", **extra)


def link_in(message) -> str:
    return re.search(r"https?://[^/]+(/accounts/verify/\S+)", message.body).group(1)


def with_signup_rate(rate: str):
    from django.conf import settings

    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] | {"signup": rate}
    return override_settings(REST_FRAMEWORK=settings.REST_FRAMEWORK | {"DEFAULT_THROTTLE_RATES": rates})


class TestConfirmation:
    def test_credits_wait_for_the_confirmation_link(self, client):
        user = services.sign_up(email="new@example.com", password=PASSWORD, site_url=SITE)
        assert user.credit_balance == 0 and not CreditEntry.objects.filter(user=user).exists()
        client.get(link_in(mail.outbox[0]))
        user.refresh_from_db()
        assert user.is_email_verified and user.credit_balance == 100

    def test_the_monthly_grant_skips_unconfirmed_users(self):
        unconfirmed = UserFactory(credits=0, email_verified_at=None)
        confirmed = UserFactory(credits=0)
        assert services.grant_monthly_credits(month="2026-11") == 1
        unconfirmed.refresh_from_db(), confirmed.refresh_from_db()
        assert (unconfirmed.credit_balance, confirmed.credit_balance) == (0, 100)

    def test_a_forged_or_expired_link_confirms_nothing(self, client):
        user = services.sign_up(email="new@example.com", password=PASSWORD, site_url=SITE)
        forged = signing.dumps([user.pk, user.email], salt="another purpose")
        assert client.get(f"/accounts/verify/{forged}/").status_code == 400
        with override_settings(PASSWORD_RESET_TIMEOUT=-1):  # every link is older than that
            assert client.get(link_in(mail.outbox[0])).status_code == 400
        user.refresh_from_db()
        assert not user.is_email_verified and user.credit_balance == 0

    def test_an_unconfirmed_user_can_ask_for_a_new_link_from_the_account_page(self, client):
        user = UserFactory(credits=0, email_verified_at=None)
        client.force_login(user)
        assert b"Send the link again" in client.get("/accounts/").content
        assert client.post("/accounts/verify/resend").status_code == 302
        client.get(link_in(mail.outbox[-1]))
        user.refresh_from_db()
        assert user.credit_balance == 100


class TestSameAnswer:
    def test_the_website_answers_a_registered_address_like_a_new_one(self, client):
        UserFactory(email="taken@example.com")
        taken, new = website_sign_up(client, "Taken@example.com"), website_sign_up(client, "new@example.com")
        assert (
            (taken.status_code, taken["Location"])
            == (new.status_code, new["Location"])
            == (302, "/accounts/signup/sent/")
        )
        assert User.objects.filter(email="taken@example.com").count() == 1
        assert sorted(message.to[0] for message in mail.outbox) == ["new@example.com", "taken@example.com"]

    def test_the_owner_is_told_and_their_password_is_unchanged(self):
        owner = UserFactory(email="taken@example.com")
        assert api_sign_up("taken@example.com", "an attacker's passphrase 9").status_code == 202
        owner.refresh_from_db()
        assert owner.check_password(FACTORY_PASSWORD)
        assert "/accounts/login/" in mail.outbox[0].body and "/accounts/verify/" not in mail.outbox[0].body


class TestRate:
    def test_website_sign_ups_are_limited_per_client_address(self, client):
        with with_signup_rate("3/hour"):
            codes = [website_sign_up(client, f"bot{n}@example.com").status_code for n in range(5)]
            other_address = website_sign_up(client, "person@example.com", REMOTE_ADDR="192.0.2.7")
        assert codes == [302, 302, 302, 429, 429]
        assert other_address.status_code == 302
        assert User.objects.filter(email__startswith="bot").count() == 3

    def test_api_sign_ups_are_limited_per_client_address(self):
        with with_signup_rate("3/hour"):
            codes = [api_sign_up(f"bot{n}@example.com").status_code for n in range(4)]
            refused = api_sign_up("bot9@example.com")
        assert codes == [202, 202, 202, 429]
        assert refused.json()["error"]["code"] == "throttled" and int(refused["Retry-After"]) > 0

    def test_the_website_and_the_api_share_one_count(self, client):
        with with_signup_rate("2/hour"):
            assert website_sign_up(client, "one@example.com").status_code == 302
            assert api_sign_up("two@example.com").status_code == 202
            assert website_sign_up(client, "three@example.com").status_code == 429


@pytest.mark.parametrize("password", [" " * 12, "\t" * 10, "password1234", "qwertyuiop"])
class TestWeakPasswords:
    def test_the_website_refuses_it(self, client, password):
        response = website_sign_up(client, "m@example.com", password)
        assert response.status_code == 200 and "password1" in response.context["form"].errors
        assert not User.objects.filter(email="m@example.com").exists()

    def test_the_api_refuses_it_on_the_password_field(self, password):
        response = api_sign_up("m@example.com", password)
        assert response.status_code == 400 and "password" in response.json()["error"]["fields"]
        assert not User.objects.filter(email="m@example.com").exists()

    def test_the_admin_refuses_it(self, client, password):
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
        response = client.post(
            "/admin/accounts/user/add/",
            {
                "email": "m@example.com",
                "tier": "free",
                "usable_password": "true",
                "password1": password,
                "password2": password,
            },
        )
        assert response.status_code == 200 and response.context["adminform"].form.errors
        assert not User.objects.filter(email="m@example.com").exists()

    def test_a_password_reset_refuses_it(self, client, password):
        user = UserFactory()
        client.post("/accounts/password-reset/", {"email": user.email})
        link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
        form = client.get(link, follow=True)
        response = client.post(form.redirect_chain[-1][0], {"new_password1": password, "new_password2": password})
        assert response.status_code == 200 and response.context["form"].errors
        user.refresh_from_db()
        assert user.check_password(FACTORY_PASSWORD)
