"""What the earlier APIs' routes share: their status words, their error answers, and renaming fields back.

Every route here is a translation: the request into the real serializers and services, their answer into the
earlier shape. Errors keep the API's own shape (`{"error": {...}}`) and add `detail`, which the earlier clients
read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from generation.models import GenerationJob, JobStatus

# Documents 002 and 003: a job's status as their clients compare it.
PROCESSING_WORDS: dict[str, str] = {
    JobStatus.QUEUED: "pending",
    JobStatus.RUNNING: "processing",
    JobStatus.SUCCEEDED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELED: "failed",
}
PROCESSING_HELP = "pending, processing, completed or failed (a canceled job reads failed)."
CANCELED_MESSAGE = "Canceled."


def error_message(job: GenerationJob) -> str | None:
    """Why a job ended without its images (a canceled one too: the earlier APIs had no such status)."""
    if job.status == JobStatus.FAILED:
        return job.last_error or "Failed."
    if job.status == JobStatus.CANCELED:
        return CANCELED_MESSAGE
    return None


class LegacyErrors:
    """An earlier API's route: errors in the API's shape, plus `detail` (the message) for the earlier clients."""

    def handle_exception(self, exc: Exception) -> Response:
        response: Response = super().handle_exception(exc)  # type: ignore[misc]
        if isinstance(response.data, dict) and "error" in response.data:
            response.data["detail"] = response.data["error"]["message"]
        return response


class LegacyView(LegacyErrors, APIView):
    pass


@contextmanager
def fields_renamed(names: dict[str, str]) -> Iterator[None]:
    """Field errors reported under the request's own names (`width` -> `parameters.width`; a key ending in `.`
    renames a prefix: `inputs.` -> `parameters.`)."""
    try:
        yield
    except exceptions.ValidationError as error:
        if isinstance(error.detail, dict):
            raise exceptions.ValidationError(_renamed(error.detail, names)) from error
        raise
    except DjangoValidationError as error:
        if hasattr(error, "error_dict"):
            raise exceptions.ValidationError(_renamed(error.message_dict, names)) from error
        raise


def _renamed(detail: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    renamed: dict[str, Any] = {}
    for field, messages in detail.items():
        if field == "inputs" and isinstance(messages, dict):  # the serializer's own errors on one input's value
            renamed.update(_renamed({f"inputs.{name}": value for name, value in messages.items()}, names))
            continue
        prefix = next((key for key in names if key.endswith(".") and field.startswith(key)), None)
        renamed[names[prefix] + field.removeprefix(prefix) if prefix else names.get(field, field)] = messages
    return renamed
