"""Where a webhook may go: https (http only when WEBHOOK_ALLOW_HTTP), no credentials in the URL, and only public
addresses unless WEBHOOK_ALLOW_PRIVATE_NETWORKS. Checked when an endpoint is saved and again on every attempt,
against the addresses the name resolves to then; the request goes to the address that was checked."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class UnsafeTarget(Exception):
    """The URL may not be called (scheme, credentials, or an address that is not public)."""


class NotResolvable(UnsafeTarget):
    """The host name has no address (now): refused on an attempt, accepted when saved."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with its query
    address: str  # the checked IP address the request goes to


def check_url_syntax(url: str) -> None:
    """Refuse what no resolution can fix: scheme, credentials, no host. Raises UnsafeTarget."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeTarget(_("This is not a valid URL.")) from None
    allowed = ("https", "http") if settings.WEBHOOK_ALLOW_HTTP else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeTarget(_("Use an https:// URL.") if parts.scheme != "https" else _("This is not a valid URL."))
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget(_("A webhook URL may not contain credentials."))
    if not parts.hostname:
        raise UnsafeTarget(_("This is not a valid URL."))
    if port == 0:
        raise UnsafeTarget(_("This is not a valid URL."))


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    # Not global: private, loopback, link-local (169.254.169.254 and other metadata), shared, reserved ranges.
    return address.is_global and not address.is_multicast


def resolve_target(url: str) -> Target:
    """The URL's parts and one address it resolves to, every resolved address checked. Raises UnsafeTarget."""
    check_url_syntax(url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise NotResolvable(_("The host name does not resolve.")) from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise NotResolvable(_("The host name does not resolve."))
    if not settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS and not all(_is_public(address) for address in addresses):
        raise UnsafeTarget(_("The URL points to a private, loopback, link-local or metadata address."))
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=parts.scheme, host=host, port=port, path=path, address=str(addresses[0]))


def validate_webhook_url(url: str, *, field: str) -> None:
    """The same checks when an endpoint is saved, as a field error; a name that does not resolve yet may."""
    try:
        resolve_target(url)
    except NotResolvable:
        return
    except UnsafeTarget as error:
        raise ValidationError({field: str(error)}) from None
