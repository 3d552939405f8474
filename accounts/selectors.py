"""Reads for accounts: plan limits, ledgers, keys. Every queryset starts from its owner."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from .models import ApiKey, CreditEntry, Tier
from .tiers import DEFAULT_TIERS, TierLimits, TierName

if TYPE_CHECKING:
    from .models import User


def tier_limits(tier: str) -> TierLimits:
    """The staff-edited Tier row when there is one, else the built-in defaults."""
    row = Tier.objects.filter(name=tier).first()
    if row is not None:
        return row.limits()
    return DEFAULT_TIERS.get(tier, DEFAULT_TIERS[TierName.FREE])


def limits_for(user: User) -> TierLimits:
    return tier_limits(user.tier)


def ledger_for(user: User) -> QuerySet[CreditEntry]:
    return CreditEntry.objects.filter(user=user).order_by("-created_at", "-id")


def api_keys_for(user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at", "-id")
