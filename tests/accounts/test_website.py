"""Website pages: sign-up, login, logout, password reset, the account page."""

import re

import pytest
from django.core import mail

from accounts.models import User

from ..factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_sign_up_mails_a_link_that_confirms_the_address_and_grants_the_credits(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "maker@example.com", "password1": "a long passphrase 42", "password2": "a long passphrase 42"},
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/signup/sent/"
    user = User.objects.get(email="maker@example.com")
    assert (user.is_email_verified, user.credit_balance) == (False, 0)
    link = re.search(r"https?://[^/]+(/accounts/verify/\S+)", mail.outbox[0].body).group(1)
    assert client.get(link).status_code == 200
    user.refresh_from_db()
    assert user.is_email_verified and user.credit_balance == 100
    assert client.get(link).status_code == 200  # a second click grants nothing more
    user.refresh_from_db()
    assert user.credit_balance == 100
    assert (
        client.post("/accounts/login/", {"username": user.email, "password": "a long passphrase 42"}).status_code == 302
    )
    assert b"100" in client.get("/accounts/").content


def test_sign_up_with_mismatched_or_weak_passwords_shows_the_errors(client):
    response = client.post("/accounts/signup/", {"email": "m@example.com", "password1": "abc", "password2": "abd"})
    assert response.status_code == 200
    assert response.context["form"].errors
    response = client.post("/accounts/signup/", {"email": "m@example.com", "password1": "12345", "password2": "12345"})
    assert "password1" in response.context["form"].errors
    assert not User.objects.filter(email="m@example.com").exists()


def test_login_and_logout(client):
    user = UserFactory()
    assert client.get("/accounts/").status_code == 302
    response = client.post("/accounts/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/accounts/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/accounts/")["Location"].startswith("/accounts/login/")


def test_a_wrong_password_shows_the_form_again(client):
    response = client.post("/accounts/login/", {"username": UserFactory().email, "password": "wrong"})
    assert response.status_code == 200 and response.context["form"].errors


def test_password_reset_sends_a_link_that_sets_a_new_password(client):
    user = UserFactory()
    response = client.post("/accounts/password-reset/", {"email": user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200 and form.context["validlink"]
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": "another passphrase 77", "new_password2": "another passphrase 77"}
    )
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("another passphrase 77")


def test_password_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(client):
    response = client.post("/accounts/password-reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password-reset/sent/"
    assert mail.outbox == []
