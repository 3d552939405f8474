"""Login brute-force protection (django-axes) adapted to email logins."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend


class LoginAttemptsBackend(AxesStandaloneBackend):
    """Refuses locked-out logins. Calls without a request (scripts, test clients) are not web logins: skipped."""

    def authenticate(self, request, username=None, password=None, **kwargs: Any):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def login_username(request, credentials: dict | None) -> str | None:
    """The email tried, whichever field carried it: `username` on the website form, `email` on the API."""
    for source in (credentials or {}, getattr(request, "data", None) or {}, getattr(request, "POST", None) or {}):
        value = source.get("username") or source.get("email")
        if value and isinstance(value, str):
            return value.strip().lower()
    return None
