"""Compatible with document 002: `POST /api/v1/generate` (`prompt`, `model`, `parameters`) answering 202
`{job_id, status, message}`, `GET /api/v1/status/{job_id}` and `GET /api/v1/jobs?skip=&limit=` (a plain list).

`POST /api/v1/generate` also takes document 000's `template_id` (compat.doc000) and every field of
`POST /api/v1/jobs`: one body that is valid in several shapes is the same job in each. The jobs list answers in
this shape only when `skip` or `limit` is given; without them `/api/v1/jobs` is the API's paginated list.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import idempotency
from core.openapi import error_response
from core.pagination import MAX_PAGE_SIZE, check_int_params
from gallery.selectors import image_urls
from generation import selectors, services
from generation.api import QUEUE_DOWN_WARNING, SUBMIT_ERRORS, JobCreateSerializer, JobListCreateView
from generation.models import GenerationJob

from . import doc000
from .common import PROCESSING_HELP, PROCESSING_WORDS, LegacyView, error_message, fields_renamed

TAG = "compatible with document 002"
DEFAULT_LIMIT = 20


class GenerateSerializer(JobCreateSerializer):
    """`POST /api/v1/jobs`'s fields, plus the earlier APIs' `template_id` and `parameters` (translated first)."""

    template_id = serializers.CharField(required=False, help_text="Document 000: a template's id or slug.")
    parameters = serializers.DictField(
        required=False,
        help_text="width, height, steps (num_inference_steps), cfg_scale (guidance_scale), seed, negative_prompt, "
        "num_images; any other key is one of the template's inputs (render_engine, lighting_setup, ...).",
    )


class GenerateAcceptedSerializer(serializers.Serializer):
    job_id = serializers.IntegerField()
    status = serializers.CharField(help_text=PROCESSING_HELP)
    message = serializers.CharField()
    estimated_seconds = serializers.FloatField()


class LegacyJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    prompt = serializers.CharField()
    status = serializers.CharField(help_text=PROCESSING_HELP)
    media_path = serializers.CharField(allow_null=True, help_text="The first image's signed URL; null until then.")
    error_message = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    progress = serializers.IntegerField(help_text="Percent done (not in document 002; ignored by its clients).")


def legacy_job(job: GenerationJob) -> dict[str, Any]:
    first = next(iter(job.images.all()), None)
    return {
        "id": job.pk,
        "prompt": job.prompt,
        "status": PROCESSING_WORDS[job.status],
        "media_path": image_urls(first)["url"] if first is not None else None,
        "error_message": error_message(job),
        "created_at": job.created_at,
        "progress": job.percent,
    }


class GenerateView(LegacyView):
    @extend_schema(
        summary="Submit a job (documents 000 and 002)",
        tags=[TAG],
        request=GenerateSerializer,
        responses={202: GenerateAcceptedSerializer, **SUBMIT_ERRORS},
        parameters=[idempotency.OPENAPI_PARAMETER],
        examples=[
            OpenApiExample(
                "Document 002",
                value={"prompt": "a red sneaker on concrete", "model": "sdxl", "parameters": {"steps": 30}},
                request_only=True,
            ),
            OpenApiExample(
                "Document 000",
                value={
                    "template_id": "3d-render",
                    "prompt": "modern futuristic car in a cyberpunk city",
                    "parameters": {"render_engine": "cycles", "lighting_setup": "dramatic", "steps": 35},
                },
                request_only=True,
            ),
            OpenApiExample(
                "Queued",
                value={"job_id": 42, "status": "pending", "message": "Job queued.", "estimated_seconds": 2.8},
                response_only=True,
                status_codes=["202"],
            ),
        ],
    )
    @idempotency.idempotent
    def post(self, request: Request) -> Response:
        """The same job as `POST /api/v1/jobs` with the translated body; answers its id and status at once."""
        data = request.data.dict() if hasattr(request.data, "dict") else request.data  # a form's QueryDict
        if not isinstance(data, dict):
            raise exceptions.ValidationError({"non_field_errors": [_("Send a JSON object.")]})
        with fields_renamed({"inputs.": "parameters."}):
            body, names = doc000.translate_request(data)
        with fields_renamed(names):
            serializer = JobCreateSerializer(data=body)
            serializer.is_valid(raise_exception=True)
            job = services.submit_job_request(user=request.user, **serializer.validated_data)
        accepted = {
            "job_id": job.pk,
            "status": PROCESSING_WORDS[job.status],
            "message": "Job queued." if job.dispatched_at else QUEUE_DOWN_WARNING,
            "estimated_seconds": services.estimate_seconds(job),
        }
        return Response(GenerateAcceptedSerializer(accepted).data, status=status.HTTP_202_ACCEPTED)


class StatusView(LegacyView):
    @extend_schema(summary="A job's status (document 002)", tags=[TAG], responses={200: LegacyJobSerializer})
    def get(self, request: Request, job_id: int) -> Response:
        job = get_object_or_404(selectors.jobs_for(request.user), pk=job_id)
        return Response(LegacyJobSerializer(legacy_job(job)).data)


class JobListView(LegacyView):
    """Your jobs, newest first, as a plain list: `skip` rows passed over, at most `limit` (100) returned."""

    @extend_schema(
        summary="Your jobs as a plain list (document 002)",
        tags=[TAG],
        parameters=[
            OpenApiParameter("skip", int, description="Rows to pass over (default 0)."),
            OpenApiParameter("limit", int, description=f"Rows to return (default {DEFAULT_LIMIT}, at most 100)."),
        ],
        responses={200: LegacyJobSerializer(many=True), 400: error_response(400)},
    )
    def get(self, request: Request) -> Response:
        check_int_params(request, skip=0, limit=1)
        skip = int(request.query_params.get("skip", 0))
        limit = min(int(request.query_params.get("limit", DEFAULT_LIMIT)), MAX_PAGE_SIZE)
        jobs = selectors.browse_jobs(request.user).order_by("-created_at", "-pk")[skip : skip + limit]
        return Response(LegacyJobSerializer([legacy_job(job) for job in jobs], many=True).data)


jobs_api = JobListCreateView.as_view()
legacy_list = JobListView.as_view()


@csrf_exempt  # as every DRF view is: the view it hands to checks CSRF for session clients itself
def jobs(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """`/api/v1/jobs`: document 002's plain list for a GET with `skip` or `limit`, else the API's own route."""
    if request.method == "GET" and ("skip" in request.GET or "limit" in request.GET):
        return legacy_list(request)
    return jobs_api(request, *args, **kwargs)
