"""Compatible with document 000: template jobs (`template_id`, `parameters`) and their progress as SSE.

`POST /api/v1/generate` takes `{"template_id": "<id or slug>", "prompt": "...", "parameters": {...}}`, where
`parameters` holds the sampler settings (`width`, `height`, `steps`, `cfg_scale`, ...) and the template's declared
inputs (`render_engine`, `lighting_setup`); that route serves document 002's shape too (compat.doc002).
`GET /api/v1/generate/{job_id}/stream` is the job's Server-Sent Events stream (generation.sse) at this path.
"""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request

from generation.sse import JobEventsView, stream_schema
from templates_app.models import Template
from templates_app.selectors import template_for_jobs

from .common import LegacyErrors

TAG = "compatible with document 000"

# `parameters` keys that are the job's own fields, by the names the earlier APIs used; any other key is one of
# the template's inputs (an undeclared one is refused, naming it).
PARAMETER_FIELDS = {
    "width": "width",
    "height": "height",
    "steps": "steps",
    "num_inference_steps": "steps",
    "cfg_scale": "guidance",
    "guidance_scale": "guidance",
    "guidance": "guidance",
    "seed": "seed",
    "negative_prompt": "negative_prompt",
    "num_images": "num_images",
    "size_preset": "size_preset",
}


def template_slug(template_id: Any) -> str:
    """A template named by its slug or by the id of any of its versions, as its slug (the latest version runs)."""
    if isinstance(template_id, int) and not isinstance(template_id, bool):
        template_id = str(template_id)
    try:  # a string without NUL characters, of a slug's length
        value: str = serializers.CharField(max_length=120).run_validation(template_id)
    except exceptions.ValidationError as error:
        raise exceptions.ValidationError({"template_id": error.detail}) from error
    if value.isdigit():
        slug = Template.objects.filter(pk=int(value)).values_list("slug", flat=True).first()
        if slug is not None:
            return slug
    if template_for_jobs(value) is None:
        raise exceptions.ValidationError({"template_id": [_("No template %(value)s.") % {"value": repr(value)}]})
    return value


def translate_request(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The job request (JobCreateSerializer's fields) a document 000 or 002 body means, and the body's own name
    for each field it filled, so errors name what the client sent."""
    body = dict(data)
    names: dict[str, str] = {"inputs.": "parameters."}
    if "template_id" in body:
        if body.get("template") is not None:
            raise exceptions.ValidationError({"template_id": [_("Give template_id or template, not both.")]})
        body["template"] = template_slug(body.pop("template_id"))
        names["template"] = "template_id"
    parameters = body.pop("parameters", None)
    if parameters is None:
        return body, names
    if not isinstance(parameters, dict):
        raise exceptions.ValidationError({"parameters": [_("Must be an object.")]})
    inputs = dict(body.pop("inputs", None) or {})
    for key, value in parameters.items():
        field = PARAMETER_FIELDS.get(key)
        if field is None:
            inputs[key] = value
            continue
        if field in body:
            raise exceptions.ValidationError(
                {f"parameters.{key}": [_("Given twice: here and as %(field)s.") % {"field": field}]}
            )
        body[field] = value
        names[field] = f"parameters.{key}"
    if inputs:
        body["inputs"] = inputs
    return body, names


class GenerateStreamView(LegacyErrors, JobEventsView):
    """The job's events as Server-Sent Events at document 000's path; the same stream as /jobs/{id}/events."""

    @extend_schema(tags=[TAG])
    @stream_schema(
        "A job's progress as Server-Sent Events (document 000)",
        "The same stream as `GET /api/v1/jobs/{id}/events`: the snapshot, then each event until the final one.",
    )
    def get(self, request: Request, job_id: int) -> StreamingHttpResponse:
        stream: StreamingHttpResponse = super().get(request, pk=job_id)
        return stream
