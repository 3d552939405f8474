"""How /api/v1/ describes itself: tags per resource, the shared error responses with examples, the overview.

Wired in settings: REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] and SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"].
"""

from __future__ import annotations

from typing import Any

from django import forms
from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiFilterExtension
from drf_spectacular.plumbing import build_parameter_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema_field
from rest_framework import serializers
from rest_framework_simplejwt.views import TokenViewBase

from . import filters

# --- the error shape ----------------------------------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="Stable and machine-readable: invalid, parse_error, not_authenticated, authentication_failed, "
        "token_not_valid, permission_denied, not_found, method_not_allowed, unsupported_media_type, "
        "insufficient_credits, conflict, idempotency_key_reused, too_many_jobs, throttled, locked_out."
    )
    message = serializers.CharField(help_text="For people; for a validation error it starts with the field's name.")
    fields = serializers.DictField(
        help_text="Validation errors by field name: a list of messages, or the same shape again for nested input."
    )
    balance = serializers.IntegerField(required=False, help_text="402 only: the credits you have available.")
    cost = serializers.IntegerField(required=False, help_text="402 only: what the request would cost.")


class ErrorSerializer(serializers.Serializer):
    """Every 4xx answer of the API has this body."""

    error = ErrorDetailSerializer()


def _error(code: str, message: str, fields: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}, **extra}}


ERROR_EXAMPLES: dict[str, list[OpenApiExample]] = {
    "400": [
        OpenApiExample(
            "Validation error",
            value=_error(
                "invalid",
                "prompt: Ensure this field has no more than 2000 characters.",
                {"prompt": ["Ensure this field has no more than 2000 characters."], "colour": ["Unknown field."]},
            ),
        ),
        OpenApiExample("Malformed JSON", value=_error("parse_error", "JSON parse error - Expecting value")),
    ],
    "401": [
        OpenApiExample(
            "No credentials", value=_error("not_authenticated", "Authentication credentials were not provided.")
        ),
        OpenApiExample("Revoked key", value=_error("authentication_failed", "Invalid or revoked API key.")),
    ],
    "402": [
        OpenApiExample(
            "Not enough credits",
            value=_error("insufficient_credits", "This job costs 4 credits; you have 1 available.", balance=1, cost=4),
        )
    ],
    "403": [
        OpenApiExample(
            "Not allowed", value=_error("permission_denied", "You do not have permission to perform this action.")
        )
    ],
    "404": [
        OpenApiExample(
            "Not found (or another user's)", value=_error("not_found", "No GenerationJob matches the given query.")
        )
    ],
    "409": [
        OpenApiExample("Wrong state", value=_error("conflict", "Only a failed job can be retried; job 42 is running.")),
        OpenApiExample(
            "Idempotency-Key reused",
            value=_error("idempotency_key_reused", "This Idempotency-Key was already used with a different request."),
        ),
    ],
    "413": [OpenApiExample("Too large", value=_error("payload_too_large", "The request body is too large."))],
    "415": [
        OpenApiExample(
            "Wrong content type",
            value=_error("unsupported_media_type", 'Unsupported media type "text/plain" in request.'),
        )
    ],
    "429": [
        OpenApiExample(
            "Rate limited", value=_error("throttled", "Request was throttled. Expected available in 12 seconds.")
        ),
        OpenApiExample("Plan's job limit", value=_error("too_many_jobs", "You have too many jobs in progress.")),
    ],
}

IDEMPOTENCY_HEADER = "Idempotency-Key"  # documented on every POST that accepts it (accounts.idempotency)

ERROR_DESCRIPTIONS = {
    "400": "Invalid input: malformed body, unknown or invalid field, or bad query parameter.",
    "401": "No credentials, or invalid ones.",
    "402": "Not enough credits for this request.",
    "403": "Authenticated but not allowed (staff-only, or a session request without its CSRF token).",
    "404": "No such object among yours (another user's object is not found either), or no such page.",
    "409": "Conflicts with the object's state, or an Idempotency-Key reused with another body.",
    "413": "The request body is larger than the server accepts.",
    "415": "Unsupported Content-Type: send application/json (or multipart/form-data for uploads).",
    "429": "Too many requests (rate limit) or too many jobs in progress (plan limit); see Retry-After.",
}

RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before retrying."}}


def error_response(code: int | str, description: str | None = None) -> OpenApiResponse:
    """The error response for `code`, for views that name one explicitly (402 on endpoints that spend credits)."""
    code = str(code)
    return OpenApiResponse(
        ErrorSerializer, description=description or ERROR_DESCRIPTIONS[code], examples=ERROR_EXAMPLES.get(code, [])
    )


# --- list filters -------------------------------------------------------------------------------


def _serializer_field_for(form_field: forms.Field) -> serializers.Field:
    """The DRF field that validates as `form_field` does, so the parameter reads as the form checks it."""
    common: dict[str, Any] = {"required": form_field.required, "help_text": form_field.help_text or None}
    if isinstance(form_field, forms.ChoiceField):
        choices = [(value, label) for value, label in form_field.choices if value != ""]
        return serializers.ChoiceField(choices=choices, **common)
    if isinstance(form_field, forms.SlugField):
        return serializers.SlugField(max_length=form_field.max_length, **common)
    if isinstance(form_field, forms.RegexField):
        return serializers.RegexField(form_field.regex, max_length=form_field.max_length, **common)
    if isinstance(form_field, forms.CharField):
        return serializers.CharField(max_length=form_field.max_length, **common)
    if isinstance(form_field, forms.IntegerField):
        return serializers.IntegerField(min_value=form_field.min_value, max_value=form_field.max_value, **common)
    if isinstance(form_field, filters.BooleanField | forms.NullBooleanField):
        return serializers.BooleanField(**common)
    return _TextParameter(**common)  # dates and other text the form parses itself


@extend_schema_field(OpenApiTypes.STR)
class _TextParameter(serializers.Field):
    pass


class FilterSetExtension(OpenApiFilterExtension):
    """A list's FilterSet (core.filters) as its query parameters, each described by the form field that checks it."""

    target_class = "core.filters.FilterBackend"
    priority = 1  # before drf-spectacular's own django-filter extension, which guesses from model fields

    def get_schema_operation_parameters(self, auto_schema: AutoSchema, *args: Any, **kwargs: Any) -> list[dict]:
        filterset_class = getattr(auto_schema.view, "filterset_class", None)
        if filterset_class is None:
            return []
        fields = {name: _serializer_field_for(f.field) for name, f in filterset_class.base_filters.items()}
        parameters = type(f"{filterset_class.__name__}Parameters", (serializers.Serializer,), fields)()
        mapped = auto_schema._map_serializer(parameters, "request")
        return [
            build_parameter_type(
                name=name,
                schema=schema,
                description=schema.pop("description", None),
                location=OpenApiParameter.QUERY,
                allow_blank=getattr(parameters.fields[name], "allow_blank", True),
                required=name in mapped.get("required", []),
            )
            for name, schema in mapped["properties"].items()
        ]


# --- the schema class ---------------------------------------------------------------------------

# The tag of a path is its first segment (after /api/v1/), renamed here, or the nested resource it names.
TAG_ALIASES = {"shares": "public-shares"}
NESTED_RESOURCES = {"chapters", "characters", "scenes"}
WRITE_METHODS = {"POST", "PUT", "PATCH"}


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema, plus the error responses every endpoint can give, each with examples."""

    def get_tags(self) -> list[str]:
        segments = [part for part in self._tokenize_path() if not part.startswith("{")]
        if not segments:
            return super().get_tags()
        resource = segments[0]
        for nested in segments[1:]:
            if nested in NESTED_RESOURCES:
                resource = nested
        return [TAG_ALIASES.get(resource, resource)]

    def _get_pagination_parameters(self) -> list[dict[str, Any]]:
        """The paginator's parameters, unless the list's FilterSet documents them (with their bounds) already."""
        documented = {parameter["name"] for parameter in self._get_filter_parameters()}
        return [p for p in super()._get_pagination_parameters() if p["name"] not in documented]

    def _error_codes(self, operation: dict[str, Any]) -> list[str]:
        """The 4xx answers this operation can give, judged from its view and its documented inputs."""
        view = self.view
        parameters = operation.get("parameters", [])
        has_body = "requestBody" in operation
        authenticated = bool(view.get_authenticators()) or isinstance(view, TokenViewBase)
        codes = []
        if self.method in WRITE_METHODS or any(p["in"] == "query" for p in parameters):
            codes.append("400")
        if authenticated:
            codes += ["401", "403"]
        if "{" in self.path or has_body or (self._is_list_view() and self._get_paginator()):
            codes.append("404")  # no such object (in the path or named in the body), or no such page
        if "202" in operation["responses"]:
            codes.append("402")  # a 202 queues a job, which spends credits
        if any(p["in"] == "header" and p["name"] == IDEMPOTENCY_HEADER for p in parameters):
            codes.append("409")
        if has_body:
            codes += ["413", "415"]
        if view.get_throttles():
            codes.append("429")
        return codes

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        for code in self._error_codes(operation):
            if code not in responses:
                responses[code] = self._get_response_for_code(error_response(code), code)
        if "429" in responses:
            responses["429"].setdefault("headers", {}).update(RETRY_AFTER)
        operation["responses"] = dict(sorted(responses.items()))
        return operation


# --- the overview -------------------------------------------------------------------------------

DESCRIPTION = """
Generate marketing images from templates and production paths, follow their progress, and manage the results.

## Authentication
Send one of:
- **API key** (for servers and scripts): create one at `POST /api/v1/auth/keys` (or on the account page) and send
  `Authorization: Bearer zk_...` (or `Authorization: Api-Key zk_...`). The key is shown once; revoke it with
  `DELETE /api/v1/auth/keys/{id}`.
- **JWT**: `POST /api/v1/auth/token/` with `{"email", "password"}` answers an `access` (30 minutes) and a
  `refresh` token (7 days); send `Authorization: Bearer <access>`, renew at `POST /api/v1/auth/token/refresh/`.
  Repeated failed logins lock the account out for a while (429, `locked_out`).
- **Session**: the website's login cookie; writes also need the `X-CSRFToken` header.

## Errors
Every 4xx answer has one shape: `{"error": {"code": "...", "message": "...", "fields": {...}}}`.
`code` is stable and machine-readable; `message` is for people (for invalid input it starts with the field);
`fields` maps each invalid field to its messages. A field the endpoint does not know is an error too
(`"Unknown field."`), so a typo never passes silently. Another user's object answers 404, exactly like an
object that does not exist. 402 (`insufficient_credits`) adds `balance` and `cost`; 429 comes with `Retry-After`.

## Pagination
Lists answer `{"count", "next", "previous", "results"}`: `?page=` from 1 and `?page_size=` (default 20, at most
100), in a stable order (newest first unless the endpoint says otherwise; ties broken by id).

## Jobs
`POST /api/v1/jobs` answers 202 at once with the queued job; follow it with `GET /api/v1/jobs/{id}` (or the
WebSocket at `/ws/jobs/`). Send an `Idempotency-Key` header to retry a submission safely. Each image costs the
template's credits, reserved at submit and settled when the job finishes; canceling releases the unproduced
images' credits. Limits: prompt up to 2,000 characters, 1 to 4 images, sides within the model's range (and the
plan's `max_side`), a plan's number of queued and running jobs (`GET /api/v1/me` lists your plan's limits).

## Compatibility with earlier APIs
The clients of the earlier systems this product replaces (the source documents 000, 002, 003 and 004) work
unchanged, with an API key: their routes are listed under the tags "compatible with document ...". They are the
same jobs through the same services, answered in the earlier shapes and status words; errors have the shape
above plus `detail`. `GET /api/v1/jobs` with `?skip=` or `?limit=` answers document 002's plain list; without
them, the paginated list above.
""".strip()

TAGS = [
    {"name": "auth", "description": "Tokens (JWT), personal API keys and sign-up."},
    {"name": "me", "description": "Your profile, credit balance and plan limits, and your credits ledger."},
    {"name": "jobs", "description": "Submit generation jobs, follow their progress, cancel or retry them."},
    {"name": "batches", "description": "Campaign batches: one prompt (or several) at many channel sizes at once."},
    {"name": "webhooks", "description": "Signed webhooks for your jobs' events, their deliveries and retries."},
    {"name": "styles", "description": "LoRA styles: the public library and your own uploads, applied by weight."},
    {"name": "brand-kits", "description": "Brand kits: palette, tone, words to avoid, default styles and a logo."},
    {"name": "templates", "description": "Curated templates: a production path's settings and prompts."},
    {"name": "paths", "description": "Production paths (fashion, beauty, eats, cinema, cartoon) with defaults."},
    {"name": "size-presets", "description": "Named output sizes a job can ask for."},
    {"name": "prompt-presets", "description": "Your saved prompt fragments."},
    {"name": "images", "description": "Your generated images: browse, favourite, tag, file, download, trash."},
    {"name": "uploads", "description": "Your own images (and masks) to start jobs from: private, re-encoded."},
    {"name": "trash", "description": "Deleted images, restorable until the trash is emptied."},
    {"name": "folders", "description": "Folders for your images (nested one level deep)."},
    {"name": "tags", "description": "Your image tags."},
    {"name": "share-links", "description": "Public links to one image or one folder, optionally expiring."},
    {"name": "public-shares", "description": "What a share link shows, without login: the token is the credential."},
    {"name": "stories", "description": "Stories: a template and style shared by their chapters and characters."},
    {"name": "chapters", "description": "A story's chapters, and generating an image for each of their scenes."},
    {"name": "scenes", "description": "A chapter's scenes, their image jobs, status and chosen image."},
    {"name": "characters", "description": "A story's characters (fixed seed, reference image) and their images."},
    {"name": "health", "description": "Readiness of the service and its dependencies."},
    # The earlier APIs' routes (compat/, one module each): their paths, bodies and status words, the same jobs.
    {
        "name": "compatible with document 000",
        "description": "Template jobs with `template_id` and `parameters` (the template's inputs among them), "
        "and their progress as Server-Sent Events at `/generate/{job_id}/stream`.",
    },
    {
        "name": "compatible with document 002",
        "description": "`POST /generate` with `prompt`, `model`, `parameters`; `/status/{job_id}`; "
        "`/jobs?skip=&limit=` as a plain list. Status words: pending, processing, completed, failed.",
    },
    {
        "name": "compatible with document 003",
        "description": "The gateway's image service: `POST /images/generate` answers a task; `/tasks/{task_id}`.",
    },
    {
        "name": "compatible with document 004",
        "description": "A scene's image at `/chapters/{chapter_id}/images/scenes/{scene_number}` and its status "
        "(pending, in_progress, completed, failed).",
    },
]

SECURITY_DESCRIPTIONS = {
    "apiKey": "A personal API key from `POST /api/v1/auth/keys`: `Authorization: Bearer zk_...` "
    "(or `Authorization: Api-Key zk_...`).",
    "jwtAuth": "An access token from `POST /api/v1/auth/token/` (30 minutes; renew with "
    "`POST /api/v1/auth/token/refresh/`): `Authorization: Bearer <access>`.",
    "cookieAuth": "The website's session cookie; POST, PUT, PATCH and DELETE also need the `X-CSRFToken` header.",
}


def document(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Postprocessing hook: the overview, the tags in reading order, and what each security scheme expects."""
    result["info"]["description"] = DESCRIPTION
    operations = [op for item in result.get("paths", {}).values() for op in item.values() if isinstance(op, dict)]
    used = {tag for op in operations for tag in op.get("tags", [])}
    known = [tag for tag in TAGS if tag["name"] in used]
    result["tags"] = known + [{"name": name} for name in sorted(used - {tag["name"] for tag in known})]
    for name, scheme in result.get("components", {}).get("securitySchemes", {}).items():
        if name in SECURITY_DESCRIPTIONS:
            scheme["description"] = SECURITY_DESCRIPTIONS[name]
    return result
