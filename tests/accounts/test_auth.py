"""API authentication (JWT pairs, personal API keys) and login brute-force protection."""

from datetime import timedelta

import pytest
from axes.helpers import get_client_ip_address
from django.test import RequestFactory, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.models import ApiKey

from ..conftest import bearer
from ..factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


class TestJwt:
    def test_email_and_password_give_an_access_and_refresh_token_that_work(self):
        user = UserFactory()
        response = APIClient().post("/api/v1/auth/token/", {"email": user.email, "password": PASSWORD}, format="json")
        assert response.status_code == 200, response.content
        tokens = response.json()
        assert bearer(tokens["access"]).get("/api/v1/me").json()["email"] == user.email
        refreshed = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
        assert refreshed.status_code == 200
        assert bearer(refreshed.json()["access"]).get("/api/v1/me").status_code == 200

    def test_tokens_live_30_minutes_and_7_days(self):
        from rest_framework_simplejwt.settings import api_settings

        lifetimes = (api_settings.ACCESS_TOKEN_LIFETIME, api_settings.REFRESH_TOKEN_LIFETIME)
        assert lifetimes == (timedelta(minutes=30), timedelta(days=7))

    def test_a_wrong_password_is_401(self):
        user = UserFactory()
        response = APIClient().post("/api/v1/auth/token/", {"email": user.email, "password": "nope"}, format="json")
        assert response.status_code == 401

    def test_a_forged_token_is_401(self):
        assert bearer("not.a.jwt").get("/api/v1/me").status_code == 401

    def test_basic_auth_is_not_accepted(self):
        import base64

        user = UserFactory()
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{user.email}:{PASSWORD}".encode()).decode())
        assert client.get("/api/v1/me").status_code == 401


class TestApiKeys:
    def create(self, user, name="CI"):
        client = APIClient()
        client.force_authenticate(user)
        return client.post("/api/v1/auth/keys", {"name": name}, format="json")

    def test_a_new_key_is_shown_once_and_stored_only_as_a_hash(self):
        user = UserFactory()
        response = self.create(user)
        assert response.status_code == 201
        raw = response.json()["key"]
        assert raw.startswith("zk_") and len(raw) > 40
        key = ApiKey.objects.get(user=user)
        assert key.key_hash == services.hash_api_key(raw) and raw not in (key.key_hash, key.prefix)
        assert raw.startswith(key.prefix)
        listed = APIClient()
        listed.force_authenticate(user)
        assert "key" not in listed.get("/api/v1/auth/keys").json()["results"][0]

    @pytest.mark.parametrize("scheme", ["Bearer", "Api-Key"])
    def test_a_key_authenticates_and_records_its_last_use(self, scheme):
        user = UserFactory()
        raw = self.create(user).json()["key"]
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"{scheme} {raw}")
        assert client.get("/api/v1/me").json()["email"] == user.email
        assert ApiKey.objects.get(user=user).last_used_at is not None

    def test_a_revoked_key_no_longer_works(self):
        user = UserFactory()
        created = self.create(user).json()
        owner = APIClient()
        owner.force_authenticate(user)
        assert owner.delete(f"/api/v1/auth/keys/{created['api_key']['id']}").status_code == 204
        assert bearer(created["key"]).get("/api/v1/me").status_code == 401
        assert owner.get("/api/v1/auth/keys").json()["count"] == 0

    def test_another_users_key_is_not_found(self):
        created = self.create(UserFactory()).json()
        intruder = APIClient()
        intruder.force_authenticate(UserFactory())
        assert intruder.delete(f"/api/v1/auth/keys/{created['api_key']['id']}").status_code == 404
        assert intruder.get(f"/api/v1/auth/keys/{created['api_key']['id']}").status_code == 404
        assert bearer(created["key"]).get("/api/v1/me").status_code == 200

    def test_an_unknown_key_is_401(self):
        assert bearer("zk_" + "x" * 43).get("/api/v1/me").status_code == 401

    def test_a_key_of_an_inactive_user_is_refused(self):
        user = UserFactory()
        raw = self.create(user).json()["key"]
        user.is_active = False
        user.save()
        assert bearer(raw).get("/api/v1/me").status_code == 401

    def test_last_use_is_written_at_most_once_a_minute(self):
        user = UserFactory()
        key, raw = services.create_api_key(user=user, name="x")
        earlier = timezone.now() - timedelta(seconds=10)
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=earlier)
        bearer(raw).get("/api/v1/me")
        key.refresh_from_db()
        assert key.last_used_at == earlier


class TestLoginLockout:
    def fail(self, client, email, n, **extra):
        return [
            client.post("/accounts/login/", {"username": email, "password": "wrong"}, **extra).status_code
            for _ in range(n)
        ]

    def test_the_website_login_locks_after_five_failures(self, client):
        user = UserFactory()
        assert self.fail(client, user.email, 4) == [200] * 4
        assert self.fail(client, user.email, 1) == [429]
        response = client.post("/accounts/login/", {"username": user.email, "password": PASSWORD})
        assert response.status_code == 429
        assert b"Too many" in response.content

    def test_a_spoofed_x_forwarded_for_does_not_reset_the_count(self, client):
        user = UserFactory()
        codes = [
            client.post(
                "/accounts/login/",
                {"username": user.email, "password": "wrong"},
                HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
            ).status_code
            for n in range(6)
        ]
        assert codes[-1] == 429
        response = client.post(
            "/accounts/login/", {"username": user.email, "password": PASSWORD}, HTTP_X_FORWARDED_FOR="198.51.100.7"
        )
        assert response.status_code == 429

    def test_the_lockout_ends_after_the_cool_off(self, client):
        from axes.models import AccessAttempt

        user = UserFactory()
        self.fail(client, user.email, 5)
        AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
        response = client.post("/accounts/login/", {"username": user.email, "password": PASSWORD})
        assert response.status_code == 302

    def test_the_jwt_endpoint_locks_after_five_failures(self):
        user = UserFactory()
        client = APIClient()
        bad = {"email": user.email, "password": "wrong"}
        codes = [client.post("/api/v1/auth/token/", bad, format="json").status_code for _ in range(5)]
        assert codes == [401, 401, 401, 401, 429]
        response = client.post("/api/v1/auth/token/", {"email": user.email, "password": PASSWORD}, format="json")
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "locked_out"
        assert int(response["Retry-After"]) == 15 * 60

    def test_a_lockout_is_per_account_and_address(self, client):
        locked, other = UserFactory(), UserFactory()
        self.fail(client, locked.email, 5)
        assert client.post("/accounts/login/", {"username": other.email, "password": PASSWORD}).status_code == 302


class TestClientAddress:
    def test_without_trusted_proxies_x_forwarded_for_is_ignored(self):
        request = RequestFactory().post("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
        assert get_client_ip_address(request) == "192.0.2.1"

    @override_settings(
        AXES_IPWARE_PROXY_COUNT=1,
        AXES_IPWARE_PROXY_ORDER="right-most",
        AXES_IPWARE_META_PRECEDENCE_ORDER=("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"),
    )
    def test_behind_one_proxy_the_address_it_appended_is_used_not_the_clients_claim(self):
        request = RequestFactory().post("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.20")
        assert get_client_ip_address(request) == "198.51.100.20"
