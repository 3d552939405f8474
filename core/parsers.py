"""The API's JSON parser: DRF's, refusing a body over DATA_UPLOAD_MAX_MEMORY_SIZE before reading it, and one
nested deeper than MAX_JSON_DEPTH after.

Django checks that limit only in `request.body` and form parsing; DRF's parsers read the stream directly,
so without this a JSON body of any size would be read and parsed. Free of view imports: DRF imports
DEFAULT_PARSER_CLASSES while it defines APIView.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers, status


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


# No body we take nests deeper than a template's config (about 5 levels). The bound keeps every later walk
# over a body (the NUL check, validation, rendering it back) far from Python's recursion limit.
MAX_JSON_DEPTH = 32


def nesting_depth(value: Any) -> int:
    """How deep lists and objects nest in a parsed body (a scalar is 0), without recursing."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in children)
    return deepest


class JSONParser(parsers.JSONParser):
    """DRF's, refusing (400) bodies too large, too deeply nested for the C decoder, or nested past MAX_JSON_DEPTH."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        if limit is not None and request is not None:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                raise PayloadTooLarge(f"The request body is {length} bytes; at most {limit} are accepted.")
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:  # json's decoder gives up past the recursion limit (about 1,000 levels)
            data = None
            too_deep = True
        else:
            too_deep = nesting_depth(data) > MAX_JSON_DEPTH
        if too_deep:
            message = _("The JSON body nests lists and objects deeper than %(limit)d levels.")
            raise exceptions.ParseError(message % {"limit": MAX_JSON_DEPTH})
        return data
