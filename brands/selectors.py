"""Reads for styles and brand kits. A user sees the public library and their own; another's private one is absent."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from .models import BrandKit, Style

if TYPE_CHECKING:
    from accounts.models import User


def public_styles() -> QuerySet[Style]:
    return Style.objects.filter(owner__isnull=True)


def styles_visible_to(*, user: User | None) -> QuerySet[Style]:
    """The public library and the user's own private styles (the public library alone for None)."""
    if user is None:
        return public_styles()
    return Style.objects.filter(Q(owner__isnull=True) | Q(owner=user))


def style_get(*, user: User | None, style_id: int) -> Style:
    """Raises Style.DoesNotExist for an unknown id and for another user's private style alike."""
    return styles_visible_to(user=user).get(pk=style_id)


def brand_kits_of(*, user: User) -> QuerySet[BrandKit]:
    return BrandKit.objects.filter(owner=user)


def brand_kit_get(*, user: User, kit_id: int) -> BrandKit:
    """Raises BrandKit.DoesNotExist for an unknown id and for another user's kit alike."""
    return brand_kits_of(user=user).get(pk=kit_id)
