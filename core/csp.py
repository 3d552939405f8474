"""Content-Security-Policy for every HTML page: scripts, styles and connections from this site only.

A response that already carries its own policy (the public share page) keeps it. Images may also come from the
storage host, since signed S3 URLs point there.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def build_policy(request: HttpRequest, *, inline_styles: bool = False) -> str:
    host = request.get_host()
    sockets = f"wss://{host}" if request.is_secure() else f"ws://{host}"
    images = " ".join(["'self'", "data:", "blob:", *settings.CSP_EXTRA_IMG_SRC])
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self' 'unsafe-inline'" if inline_styles else "'self'",
        "img-src": images,
        "font-src": "'self'",
        # 'self' covers same-origin WebSockets in current browsers; the explicit origin covers older ones.
        "connect-src": f"'self' {sockets}",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    if inline_styles:
        directives["worker-src"] = "'self' blob:"  # Redoc builds its search worker from a blob
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def allow_inline_styles(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For a third-party page that injects <style> elements and a blob worker (Redoc): scripts stay self-only."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = build_policy(request, inline_styles=True)
        return response

    return wrapped


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = build_policy(request)
        return response
