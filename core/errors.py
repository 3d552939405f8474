"""The one domain error class. Apps raise its subclasses from services; core.api answers each in the error shape."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A request the domain refuses. Subclasses set the HTTP status and the stable error code it answers with."""

    status_code = 400
    code = "error"
    retry_after: int | None = None  # seconds, sent as Retry-After

    def details(self) -> dict[str, Any]:
        """Extra members of the error body (e.g. the balance and the cost)."""
        return {}
