"""Production paths: one module each, registered by name, chosen by `resolve_path`.

Adding a sixth path means adding one module with a `@register_path` class and importing it here.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ValidationError

from .base import JobInput, ProductionPath

logger = logging.getLogger(__name__)

DEFAULT_PATH = "fashion"
PATHS: dict[str, ProductionPath] = {}


def register_path(cls: type[ProductionPath]) -> type[ProductionPath]:
    PATHS[cls.name] = cls()
    return cls


def get_path(name: str) -> ProductionPath:
    return PATHS[name]


def resolve_path(name: str | None, policy: str | None = None) -> ProductionPath:
    """No path -> fashion. An unknown path follows UNKNOWN_PATH_POLICY: `use_default` or `reject`."""
    if not name:
        return PATHS[DEFAULT_PATH]
    if name in PATHS:
        return PATHS[name]
    policy = policy or settings.UNKNOWN_PATH_POLICY
    if policy == "use_default":
        logger.warning("unknown production path, running as %s", DEFAULT_PATH, extra={"path": name})
        return PATHS[DEFAULT_PATH]
    raise ValidationError({"production_path": f"Unknown production path {name!r}; choose one of: {', '.join(PATHS)}."})


from . import beauty, cartoon, cinema, eats, fashion  # noqa: E402,F401  (registration)

__all__ = ["PATHS", "JobInput", "ProductionPath", "get_path", "register_path", "resolve_path"]
