"""Log filters: a request's query string never reaches a record (API clients' tokens ride in `?token=`), and its
request id does."""

from __future__ import annotations

import logging

from .request_id import current_request_id


class RequestPathOnlyFilter(logging.Filter):
    """Django's request loggers attach the request, whose repr (which the JSON formatter prints) holds the query.

    On the console handler, the record's `request` becomes its method and path only.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "path"):
            record.request = f"{getattr(request, 'method', '')} {request.path}".strip()
        return True


class RequestIdFilter(logging.Filter):
    """Puts the request id (core.request_id) on every record: the running request's, or the one on the record's
    request (Django logs an error response after the middleware has left the request's scope)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            request_id = current_request_id() or getattr(getattr(record, "request", None), "request_id", "")
            if request_id:
                record.request_id = request_id
        return True
