"""A WebSocket connection's language, picked as a page's is (core.locale): Channels runs no Django middleware.

Plumbing, so that consumers below core's site-wide layer can answer in the reader's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import trans_real


def scope_language(scope: Mapping[str, Any]) -> str:
    """A WebSocket connection's language as a page's: the user's choice, else the language cookie, else the
    browser's Accept-Language, else the site's default."""
    user = scope.get("user")
    asked = [getattr(user, "language", "") if user is not None and user.is_authenticated else ""]
    asked.append(scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME, ""))
    headers = dict(scope.get("headers", []))
    accept = headers.get(b"accept-language", b"").decode("latin1")
    asked += [code for code, _quality in trans_real.parse_accept_lang_header(accept) if code != "*"]
    for code in filter(None, asked):
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE
