"""DRF authentication: personal API keys (`Authorization: Bearer zk_...` or `Api-Key zk_...`) and JWT access tokens."""

from __future__ import annotations

from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework_simplejwt import authentication as jwt_authentication

from .models import ApiKey
from .services import API_KEY_PREFIX, hash_api_key, record_api_key_use
from .tokens import check_credentials


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Bearer tokens that do not start with zk_ are left to the JWT authentication that follows."""

    keyword = "Api-Key"

    def authenticate(self, request: Request):
        parts = authentication.get_authorization_header(request).split()
        if not parts:
            return None
        scheme = parts[0].lower()
        is_api_key = len(parts) == 2 and parts[1].startswith(API_KEY_PREFIX.encode())
        if scheme != b"api-key" and not (scheme == b"bearer" and is_api_key):
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Send the key as `Authorization: Api-Key zk_...`.")
        try:
            raw_key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid API key.") from None
        key = (
            ApiKey.objects.select_related("user")
            .filter(key_hash=hash_api_key(raw_key), revoked_at__isnull=True)
            .first()
        )
        if key is None or not key.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        record_api_key_use(key=key)
        return key.user, key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class JWTAuthentication(jwt_authentication.JWTAuthentication):
    """simplejwt's, plus the credentials claim: a token issued before a password change or a sign-out-everywhere
    is refused (accounts.tokens)."""

    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        check_credentials(validated_token, user)
        return user
