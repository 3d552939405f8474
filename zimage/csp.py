"""Content-Security-Policy for every HTML page: scripts, styles and connections from this site only.

A response that already carries its own policy (the public share page) keeps it. Images may also come from the
storage host, since signed S3 URLs point there.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def build_policy(request: HttpRequest) -> str:
    host = request.get_host()
    sockets = f"wss://{host}" if request.is_secure() else f"ws://{host}"
    images = " ".join(["'self'", "data:", "blob:", *settings.CSP_EXTRA_IMG_SRC])
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": images,
        "font-src": "'self'",
        # 'self' covers same-origin WebSockets in current browsers; the explicit origin covers older ones.
        "connect-src": f"'self' {sockets}",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = build_policy(request)
        return response
