"""Template helpers shared by every page of the website."""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from accounts.selectors import limits_for
from gallery import selectors as gallery_selectors
from generation.engine.paths import PATHS
from generation.forms import IMAGE_ACTION_FORMS, image_action_costs

register = template.Library()


@register.simple_tag(takes_context=True)
def nav_link(context, url_name: str, label: str) -> str:
    """A navigation link marked aria-current when the page is at or below its URL."""
    url = reverse(url_name)
    request = context.get("request")
    path = request.path if request else ""
    current = path == url or (url != "/" and path.startswith(url))
    if current:
        return format_html('<a href="{}" aria-current="page">{}</a>', url, label)
    return format_html('<a href="{}">{}</a>', url, label)


@register.filter
def seconds(value) -> str:
    """A duration in seconds, said the way people read it: 0.4 s, 12 s, 3 min 5 s."""
    if value in (None, ""):
        return "\N{EN DASH}"
    value = float(value)
    if value < 10:
        return _("%(seconds)s s") % {"seconds": formats.number_format(value, 1)}
    if value < 60:
        return _("%(seconds)s s") % {"seconds": round(value)}
    minutes, rest = divmod(round(value), 60)
    if rest:
        return _("%(minutes)s min %(seconds)s s") % {"minutes": minutes, "seconds": rest}
    return _("%(minutes)s min") % {"minutes": minutes}


@register.filter
def path_label(name: str) -> str:
    """A production path's name in the reader's language (a gallery image stores the path's key)."""
    spec = PATHS.get(name)
    return str(spec.label) if spec else str(name).capitalize()


@register.filter
def thumbnail_url(image) -> str:
    """A signed, expiring URL of the image's thumbnail."""
    return gallery_selectors.signed_url(image.thumbnail.name)


@register.filter
def image_url(image) -> str:
    """A signed, expiring URL of the full-size image."""
    return gallery_selectors.signed_url(image.file.name)


@register.filter
def download_url(image) -> str:
    return gallery_selectors.download_url(image)


@register.filter
def original_download_url(image) -> str:
    """The model's image before the brand kit's logo; empty when no logo was put on it."""
    return gallery_selectors.original_download_url(image)


@register.filter
def preview_url(template) -> str:
    """A template's preview picture, signed; empty when it has none."""
    return gallery_selectors.signed_url(template.preview.name) if template.preview else ""


@register.filter
def ago(value) -> str:
    """“just now”, or “3 minutes ago”."""
    if not value:
        return ""
    if timezone.now() - value < timedelta(minutes=1):
        return _("just now")
    return _("%(time)s ago") % {"time": timesince(value)}


@register.inclusion_tag("includes/image_actions.html", takes_context=True)
def image_actions(context, image) -> dict:
    """The image page's Vary / Extend to… / Upscale forms with their prices; a refused one comes back bound, with
    its errors, as `action_forms` from generation's view."""
    bound = context.get("action_forms") or {}
    request = context["request"]
    return {
        "image": image,
        "forms": {name: bound.get(name) or form() for name, form in IMAGE_ACTION_FORMS.items()},
        "costs": image_action_costs(image),
        "max_upscale_factor": limits_for(request.user).max_upscale_factor,
        "csrf_token": context.get("csrf_token"),
    }
