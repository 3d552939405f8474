"""DRF throttling by plan: each user's tier sets separate rates for submits (writes) and reads.

Counters live in the shared Redis cache. DRF throttles are not a security boundary (their counters are
not atomic); the hard limits are enforced in the database when a job is submitted.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from .selectors import tier_limits

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class TierRateThrottle(SimpleRateThrottle):
    """Scope `submit` for writes and `read` for reads; anonymous clients are counted by address."""

    def __init__(self) -> None:
        # The rate depends on the request's user; it is chosen in allow_request().
        self.rate = None

    def allow_request(self, request, view) -> bool:
        self.scope = "read" if request.method in SAFE_METHODS else "submit"
        user = request.user
        if user and user.is_authenticated:
            limits = tier_limits(user.tier)
            self.rate = limits.read_rate if self.scope == "read" else limits.submit_rate
        else:
            self.rate = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}).get(f"anon_{self.scope}")
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        user = request.user
        ident = f"user-{user.pk}" if user and user.is_authenticated else f"ip-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
