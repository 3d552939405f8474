"""Log records never carry a request's query string: API clients' tokens ride in `?token=`."""

from __future__ import annotations

import logging


class RequestPathOnlyFilter(logging.Filter):
    """Django's request loggers attach the request, whose repr (which the JSON formatter prints) holds the query.

    On the console handler, the record's `request` becomes its method and path only.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "path"):
            record.request = f"{getattr(request, 'method', '')} {request.path}".strip()
        return True
