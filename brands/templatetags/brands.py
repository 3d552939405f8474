"""Template filters for styles and brand kits: their stored pictures as signed, expiring URLs."""

from __future__ import annotations

from django import template

from gallery.selectors import signed_url

from ..models import BrandKit, Style

register = template.Library()


@register.filter
def style_preview_url(style: Style) -> str:
    """A style's preview picture, signed; empty when it has none."""
    return signed_url(str(style.preview.name)) if style.preview else ""


@register.filter
def kit_logo_url(kit: BrandKit | None) -> str:
    """A brand kit's logo PNG, signed; empty when it has none."""
    return signed_url(str(kit.logo.name)) if kit is not None and kit.logo else ""
