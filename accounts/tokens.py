"""JWTs that end when the account's credentials change, and refresh tokens that are used once.

Every token carries a credentials claim: a fingerprint of the user's session hash, which changes with the
password and with `User.token_version` (raised by `revoke_sessions_and_tokens`). Authentication and refresh
compare it with the user's current one, so a password change or a sign-out-everywhere ends every access and
refresh token issued before, at once, without a list of access tokens.

A refresh token is good for one refresh: it is blacklisted (simplejwt's token_blacklist) and a new one
returned. Presenting a blacklisted one again means two parties hold the token (a stolen copy, or the thief
used it first): every session and token of that user is revoked, and both sides must sign in again.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import tokens
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from .models import User

logger = logging.getLogger(__name__)

CREDENTIALS_CLAIM = "cred"


def credentials_fingerprint(user: User) -> str:
    return user.get_session_auth_hash()[:32]


class AccessToken(tokens.AccessToken):
    """`Authorization: Bearer <access>`; refused once the user's credentials change (accounts.authentication)."""

    @classmethod
    def for_user(cls, user: Any) -> Any:
        token = super().for_user(user)
        token[CREDENTIALS_CLAIM] = credentials_fingerprint(user)
        return token


class RefreshToken(tokens.RefreshToken):
    """Recorded as outstanding when made; its access tokens copy its claims, the credentials claim included."""

    access_token_class = AccessToken

    @classmethod
    def for_user(cls, user: Any) -> Any:
        token = super().for_user(user)
        token[CREDENTIALS_CLAIM] = credentials_fingerprint(user)
        return token


def token_revoked() -> AuthenticationFailed:
    return AuthenticationFailed(_("This token was revoked. Sign in again."), code="token_revoked")


def check_credentials(token: tokens.Token, user: User) -> None:
    """Raise unless the token was issued under the user's current password and token version."""
    if not constant_time_compare(str(token.get(CREDENTIALS_CLAIM, "")), credentials_fingerprint(user)):
        raise token_revoked()


def revoke_sessions_and_tokens(*, user: User, reason: str) -> int:
    """Sign the user out everywhere: sessions and JWTs end (the version bump), refresh tokens are blacklisted too.

    Personal API keys are separate credentials and stay valid. Returns how many refresh tokens were blacklisted.
    """
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(token_version=F("token_version") + 1)
        user.refresh_from_db(fields=["token_version"])
        outstanding = OutstandingToken.objects.filter(
            user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
        )
        blacklisted = BlacklistedToken.objects.bulk_create(
            [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
        )
    logger.warning("sessions and tokens revoked", extra={"user_id": user.pk, "reason": reason})
    return len(blacklisted)


def _refresh_token(raw_token: str) -> tuple[RefreshToken, User]:
    """The valid, unused refresh token and its active user; 401 otherwise, and revocation on reuse."""
    try:
        refresh = RefreshToken(cast(Any, raw_token))  # simplejwt annotates the encoded token as a Token
    except TokenError as error:
        _revoke_if_reused(raw_token)
        raise AuthenticationFailed(str(error), code="token_not_valid") from None
    user_id: Any = refresh.get(api_settings.USER_ID_CLAIM)
    user = User.objects.filter(pk=user_id).first()
    if user is None or not user.is_active:
        raise AuthenticationFailed(_("No active account found for the given token."), code="no_active_account")
    check_credentials(refresh, user)
    return refresh, user


def _revoke_if_reused(raw_token: str) -> None:
    """A well-signed, unexpired refresh token that fails only for being blacklisted has been used before."""
    try:
        payload = token_backend.decode(cast(Any, raw_token), verify=True)  # signature and expiry, not the blacklist
    except TokenBackendError:
        return
    if payload.get(api_settings.TOKEN_TYPE_CLAIM) != RefreshToken.token_type:
        return
    if not BlacklistedToken.objects.filter(token__jti=payload.get(api_settings.JTI_CLAIM)).exists():
        return
    user_id: Any = payload.get(api_settings.USER_ID_CLAIM)
    user = User.objects.filter(pk=user_id).first()
    if user is not None:
        revoke_sessions_and_tokens(user=user, reason="refresh token reused")


def _use_up(refresh: RefreshToken, user: User) -> bool:
    """Blacklist the token; False when another request did first (the unique row makes one of them win)."""
    outstanding, _ = OutstandingToken.objects.get_or_create(
        jti=refresh[api_settings.JTI_CLAIM],
        defaults={
            "user": user,
            "token": str(refresh),
            "created_at": refresh.current_time,
            "expires_at": datetime_from_epoch(refresh["exp"]),
        },
    )
    _, first = BlacklistedToken.objects.get_or_create(token=outstanding)
    return first


def rotate_refresh_token(*, raw_token: str) -> dict[str, str]:
    """A new access token and a new refresh token for an unused refresh token, which is used up by this call."""
    refresh, user = _refresh_token(raw_token)
    with transaction.atomic():
        first_use = _use_up(refresh, user)
        fresh = RefreshToken.for_user(user) if first_use else None
    if fresh is None:  # a concurrent refresh with the same token won: it was copied
        revoke_sessions_and_tokens(user=user, reason="refresh token reused")
        raise AuthenticationFailed(_("Token is blacklisted"), code="token_not_valid")
    return {"access": str(fresh.access_token), "refresh": str(fresh)}


def log_out(*, raw_token: str, everywhere: bool = False) -> None:
    """End this refresh token (its access tokens expire within their 30 minutes), or every session and token."""
    refresh, user = _refresh_token(raw_token)
    _use_up(refresh, user)
    if everywhere:
        revoke_sessions_and_tokens(user=user, reason="api logout everywhere")


def flush_expired() -> int:
    """Drop expired refresh tokens from the outstanding list (their blacklist rows go with them)."""
    deleted, _ = OutstandingToken.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
