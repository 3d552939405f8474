"""WebSocket authentication by API token: `?token=...` on the socket URL, for clients without a session.

The token is checked by the REST API's own authentication classes (all of
`REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]` but session auth) against a synthetic request carrying
`Authorization: Bearer <token>`, so whatever token kinds the API accepts work here unchanged.
A socket that sends a token that does not authenticate is anonymous, even with a session cookie.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

logger = logging.getLogger(__name__)

TOKEN_PARAMETER = "token"  # noqa: S105 (the query parameter name, not a secret)


def token_from_scope(scope: dict[str, Any]) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin1")).get(TOKEN_PARAMETER)
    return values[0] if values else None


def authenticate_token(token: str, *, host: str = "", client: str = "") -> Any:
    """The active user this token belongs to, or AnonymousUser."""
    from rest_framework.authentication import SessionAuthentication
    from rest_framework.exceptions import AuthenticationFailed
    from rest_framework.request import Request
    from rest_framework.settings import api_settings

    http_request = HttpRequest()
    http_request.method = "GET"
    http_request.path = "/ws/"
    http_request.META.update({"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_HOST": host, "REMOTE_ADDR": client})
    for authentication_class in api_settings.DEFAULT_AUTHENTICATION_CLASSES:
        if issubclass(authentication_class, SessionAuthentication):
            continue
        authenticator = authentication_class()
        try:
            result = authenticator.authenticate(Request(http_request, authenticators=[authenticator]))
        except AuthenticationFailed as error:
            logger.info("websocket token refused: %s", error.detail)
            return AnonymousUser()
        if result is not None:
            user = result[0]
            return user if getattr(user, "is_active", False) else AnonymousUser()
    return AnonymousUser()


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return ""


class TokenAuthMiddleware:
    """Sets `scope["user"]` from `?token=` when one is given; otherwise leaves the session's user."""

    def __init__(self, inner: Any):
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        token = token_from_scope(scope)
        if token is not None:
            client = scope.get("client") or ("", 0)
            user = await database_sync_to_async(authenticate_token)(
                token, host=_header(scope, b"host"), client=str(client[0])
            )
            scope = {**scope, "user": user}
        return await self.inner(scope, receive, send)


class OriginValidatorUnlessToken:
    """Browsers send an Origin, and a cookie-authenticated socket must come from our own site (cross-site
    WebSocket hijacking). A non-browser API client sends no Origin but authenticates with `?token=`, which a
    foreign page cannot forge: such a socket skips the origin check. Any socket that does send an Origin is
    checked against ALLOWED_HOSTS."""

    def __init__(self, inner: Any):
        from channels.security.websocket import AllowedHostsOriginValidator

        self.inner = inner
        self.validated = AllowedHostsOriginValidator(inner)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if not _header(scope, b"origin") and token_from_scope(scope) is not None:
            return await self.inner(scope, receive, send)
        return await self.validated(scope, receive, send)
