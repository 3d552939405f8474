"""JWT lifetimes beyond expiry: refresh tokens used once with reuse detection, logout, and revocation of every
token on a password change or a sign-out-everywhere."""

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from ..conftest import bearer
from ..factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def sign_in(user) -> dict:
    response = APIClient().post("/api/v1/auth/token/", {"email": user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def refresh(token: str):
    return APIClient().post("/api/v1/auth/token/refresh/", {"refresh": token}, format="json")


def works(tokens: dict) -> bool:
    return bearer(tokens["access"]).get("/api/v1/me").status_code == 200


class TestRotation:
    def test_a_refresh_returns_a_new_refresh_token_and_uses_up_the_old_one(self):
        first = sign_in(UserFactory())
        rotated = refresh(first["refresh"])
        assert rotated.status_code == 200
        assert rotated.json()["refresh"] != first["refresh"] and works(rotated.json())
        again = refresh(first["refresh"])
        assert again.status_code == 401 and again.json()["error"]["code"] == "token_not_valid"

    def test_reusing_a_rotated_token_revokes_every_token_of_the_user(self):
        stolen = sign_in(UserFactory())
        legitimate = refresh(stolen["refresh"]).json()
        assert works(legitimate)
        assert refresh(stolen["refresh"]).status_code == 401  # the thief (or the owner) reuses it
        assert not works(legitimate)
        assert refresh(legitimate["refresh"]).status_code == 401

    def test_reuse_does_not_touch_other_users(self):
        mine, theirs = sign_in(UserFactory()), sign_in(UserFactory())
        refresh(mine["refresh"])
        refresh(mine["refresh"])
        assert works(theirs) and refresh(theirs["refresh"]).status_code == 200

    def test_a_refresh_token_of_a_deleted_user_is_401_in_the_error_shape(self):
        user = UserFactory()
        tokens = sign_in(user)
        user.delete()
        response = refresh(tokens["refresh"])
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "no_active_account"

    def test_a_refresh_token_of_a_suspended_user_is_refused(self):
        user = UserFactory()
        tokens = sign_in(user)
        user.is_active = False
        user.save()
        assert refresh(tokens["refresh"]).status_code == 401


class TestLogout:
    def test_logout_ends_the_refresh_token(self):
        tokens = sign_in(UserFactory())
        response = APIClient().post("/api/v1/auth/logout", {"refresh": tokens["refresh"]}, format="json")
        assert response.status_code == 204
        assert refresh(tokens["refresh"]).status_code == 401

    def test_logout_everywhere_ends_every_token_and_session(self, client):
        user = UserFactory()
        here, elsewhere = sign_in(user), sign_in(user)
        client.force_login(user)
        response = APIClient().post(
            "/api/v1/auth/logout", {"refresh": here["refresh"], "everywhere": True}, format="json"
        )
        assert response.status_code == 204
        assert not works(elsewhere) and refresh(elsewhere["refresh"]).status_code == 401
        assert client.get("/accounts/").status_code == 302

    def test_a_bad_logout_is_a_4xx_in_the_error_shape(self):
        assert APIClient().post("/api/v1/auth/logout", {"refresh": "nope"}, format="json").status_code == 401
        response = APIClient().post("/api/v1/auth/logout", {}, format="json")
        assert response.status_code == 400 and "refresh" in response.json()["error"]["fields"]


class TestRevocation:
    def test_website_sign_out_everywhere_revokes_access_and_refresh_tokens(self, client):
        user = UserFactory()
        tokens = sign_in(user)
        client.force_login(user)
        assert client.post("/accounts/logout/everywhere").status_code == 302
        assert not works(tokens)
        assert refresh(tokens["refresh"]).status_code == 401
        assert client.get("/accounts/").status_code == 302
        assert OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True).count() == 0

    def test_a_password_change_revokes_access_and_refresh_tokens(self):
        user = UserFactory()
        tokens = sign_in(user)
        user.set_password("a brand new passphrase 8")
        user.save()
        assert not works(tokens)
        assert refresh(tokens["refresh"]).status_code == 401
        assert works({"access": sign_in_with(user, "a brand new passphrase 8")["access"]})

    def test_a_password_reset_on_the_website_revokes_api_tokens(self, client):
        import re

        from django.core import mail

        user = UserFactory()
        tokens = sign_in(user)
        client.post("/accounts/password-reset/", {"email": user.email})
        link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
        form = client.get(link, follow=True)
        new = "another passphrase 77"
        client.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
        assert not works(tokens)

    def test_sessions_made_before_token_versions_existed_stay_valid(self):
        from django.contrib.auth.base_user import AbstractBaseUser

        user = UserFactory()
        assert user.token_version == 0
        assert user.get_session_auth_hash() == AbstractBaseUser._get_session_auth_hash(user)


def sign_in_with(user, password: str) -> dict:
    response = APIClient().post("/api/v1/auth/token/", {"email": user.email, "password": password}, format="json")
    return response.json()
