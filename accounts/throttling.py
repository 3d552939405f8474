"""DRF throttling by plan: each user's tier sets separate rates for submits (writes) and reads.

Counters are sliding-window counters kept in Redis by the `limits` library: one atomic script call per
request on the process's shared connection pool. Throttles are not a security boundary, so a Redis that
does not answer lets the request through (logged); the hard limits are enforced in the database when a
job is submitted.
"""

from __future__ import annotations

import logging
import time
from functools import cache

from django.conf import settings
from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import SlidingWindowCounterRateLimiter
from rest_framework.throttling import BaseThrottle

from core.redis_clients import shared_redis

from .selectors import tier_limits

logger = logging.getLogger(__name__)

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
KEY_PREFIX = "zimage:throttle"
PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}  # by first letter, as DRF reads rates


@cache
def _limiter(redis_url: str) -> SlidingWindowCounterRateLimiter:
    pool = shared_redis(redis_url, timeout=1).connection_pool
    return SlidingWindowCounterRateLimiter(RedisStorage(redis_url, connection_pool=pool, key_prefix=KEY_PREFIX))


@cache
def rate_item(rate: str) -> RateLimitItemPerSecond:
    """A DRF rate string ("20/min", "5/s") as a `limits` item: so many requests per so many seconds."""
    requests, period = rate.split("/")
    return RateLimitItemPerSecond(int(requests), PERIOD_SECONDS[period[0]])


class TierRateThrottle(BaseThrottle):
    """Scope `submit` for writes and `read` for reads; anonymous clients are counted by address."""

    def __init__(self) -> None:
        self.retry_after: float | None = None

    def allow_request(self, request, view) -> bool:
        scope = "read" if request.method in SAFE_METHODS else "submit"
        user = request.user
        if user and user.is_authenticated:
            limits = tier_limits(user.tier)
            rate = limits.read_rate if scope == "read" else limits.submit_rate
            ident = f"user-{user.pk}"
        else:
            rate = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}).get(f"anon_{scope}")
            ident = f"ip-{self.get_ident(request)}"
        return rate is None or self.hit(rate, scope, ident)

    def hit(self, rate: str, scope: str, ident: str) -> bool:
        """Count one request; False (and `retry_after` set) when it is over the rate."""
        item, limiter = rate_item(rate), _limiter(settings.REDIS_URL)
        try:
            if limiter.hit(item, scope, ident):
                return True
            self.retry_after = max(1.0, limiter.get_window_stats(item, scope, ident).reset_time - time.time())
        except Exception:  # redis.RedisError and the like: count nothing rather than refuse everyone
            logger.warning("rate-limit store unreachable; request let through", exc_info=True)
            return True
        return False

    def wait(self) -> float | None:
        return self.retry_after


class SignUpRateThrottle(TierRateThrottle):
    """Sign-ups per client address, on the API and the website alike (accounts.views calls it directly): each
    account is an e-mail sent and a row kept, so a script must not make thousands. Rate: SIGNUP_RATE."""

    def allow_request(self, request, view) -> bool:
        rate = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}).get("signup")
        if rate is None or request.method in SAFE_METHODS:
            return True
        return self.hit(rate, "signup", f"ip-{self.get_ident(request)}")
