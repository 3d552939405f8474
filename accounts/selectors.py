"""Reads for accounts: plan limits, ledgers, keys. Every queryset starts from its owner."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from django.db.models import QuerySet

from .models import ApiKey, CreditEntry, Tier
from .tiers import DEFAULT_TIERS, TierLimits, TierName

if TYPE_CHECKING:
    from .models import User


# Every API request and job reads its owner's plan; plans change a few times a year. Each process keeps
# what it read for TIER_CACHE_SECONDS, and forgets it at once when this process saves or deletes a tier.
TIER_CACHE_SECONDS = 30.0
_tier_cache: dict[str, tuple[float, TierLimits]] = {}


def tier_limits(tier: str) -> TierLimits:
    """The staff-edited Tier row when there is one, else the built-in defaults; at most 30 s old."""
    cached = _tier_cache.get(tier)
    now = time.monotonic()
    if cached is not None and cached[0] > now:
        return cached[1]
    row = Tier.objects.filter(name=tier).first()
    limits = row.limits() if row is not None else DEFAULT_TIERS.get(tier, DEFAULT_TIERS[TierName.FREE])
    _tier_cache[tier] = (now + TIER_CACHE_SECONDS, limits)
    return limits


def clear_tier_cache(**_signal_kwargs: object) -> None:
    _tier_cache.clear()


def limits_for(user: User) -> TierLimits:
    return tier_limits(user.tier)


def ledger_for(user: User) -> QuerySet[CreditEntry]:
    return CreditEntry.objects.filter(user=user).order_by("-created_at", "-id")


def api_keys_for(user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at", "-id")
