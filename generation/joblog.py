"""Structured job logging: every record logged inside `job_log_context` carries job, user, path, model
and the submitting request's id."""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from typing import Any

_job_fields: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("zimage_job_fields", default=None)


@contextlib.contextmanager
def job_log_context(job: Any) -> Iterator[None]:
    fields = {"job_id": job.pk, "user_id": job.owner_id, "path": job.production_path, "model": job.model}
    if job.request_id:  # the id of the request that submitted it (core.request_id), so one id follows the job
        fields["request_id"] = job.request_id
    token = _job_fields.set(fields)
    try:
        yield
    finally:
        _job_fields.reset(token)


class JobContextFilter(logging.Filter):
    """Installed on the handlers in settings.LOGGING; copies the current job's fields onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_job_fields.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True
