"""The API's JSON parser: DRF's, refusing a body over DATA_UPLOAD_MAX_MEMORY_SIZE before reading it.

Django checks that limit only in `request.body` and form parsing; DRF's parsers read the stream directly,
so without this a JSON body of any size would be read and parsed. Free of view imports: DRF imports
DEFAULT_PARSER_CLASSES while it defines APIView.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import exceptions, parsers, status


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class JSONParser(parsers.JSONParser):
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
        return super().parse(stream, media_type, parser_context)
