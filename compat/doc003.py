"""Compatible with document 003: `POST /api/v1/images/generate` (its gateway's image service) answering
`{task_id, celery_task_id, status, estimated_time}`, and `GET /api/v1/tasks/{task_id}`.

The task is a job: `task_id` is the job's id (the same number `GET /api/v1/jobs/{id}` takes), `celery_task_id` the
Celery task it was sent as. The body's fields are `POST /api/v1/jobs`'s own names, so it goes through unchanged.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import idempotency
from gallery.selectors import image_urls
from generation import selectors, services
from generation.api import SUBMIT_ERRORS, JobCreateSerializer
from generation.models import GenerationJob

from .common import PROCESSING_HELP, PROCESSING_WORDS, LegacyView, error_message

TAG = "compatible with document 003"


class TaskAcceptedSerializer(serializers.Serializer):
    task_id = serializers.IntegerField(help_text="The job's id.")
    celery_task_id = serializers.CharField(allow_blank=True, help_text="Empty while the queue is unreachable.")
    status = serializers.CharField(help_text=PROCESSING_HELP)
    estimated_time = serializers.FloatField(help_text="Seconds, about.")


class TaskSerializer(serializers.Serializer):
    task_id = serializers.IntegerField()
    status = serializers.CharField(help_text=PROCESSING_HELP)
    images = serializers.ListField(child=serializers.CharField(), help_text="Each finished image's signed URL.")
    error = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    progress = serializers.IntegerField(help_text="Percent done (not in document 003; ignored by its clients).")


def task(job: GenerationJob) -> dict[str, Any]:
    return {
        "task_id": job.pk,
        "status": PROCESSING_WORDS[job.status],
        "images": [image_urls(image)["url"] for image in job.images.all()],
        "error": error_message(job),
        "created_at": job.created_at,
        "progress": job.percent,
    }


class ImageGenerateView(LegacyView):
    @extend_schema(
        summary="Submit an image task (document 003)",
        tags=[TAG],
        request=JobCreateSerializer,
        responses={202: TaskAcceptedSerializer, **SUBMIT_ERRORS},
        parameters=[idempotency.OPENAPI_PARAMETER],
        examples=[
            OpenApiExample(
                "Document 003",
                value={
                    "prompt": "a bowl of ramen, steam rising",
                    "negative_prompt": "blurry",
                    "width": 1024,
                    "height": 768,
                    "num_images": 2,
                    "seed": 7,
                },
                request_only=True,
            ),
        ],
    )
    @idempotency.idempotent
    def post(self, request: Request) -> Response:
        serializer = JobCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = services.submit_job_request(user=request.user, **serializer.validated_data)
        accepted = {
            "task_id": job.pk,
            "celery_task_id": job.celery_task_id,
            "status": PROCESSING_WORDS[job.status],
            "estimated_time": services.estimate_seconds(job),
        }
        return Response(TaskAcceptedSerializer(accepted).data, status=status.HTTP_202_ACCEPTED)


class TaskView(LegacyView):
    @extend_schema(summary="An image task (document 003)", tags=[TAG], responses={200: TaskSerializer})
    def get(self, request: Request, task_id: int) -> Response:
        job = get_object_or_404(selectors.jobs_for(request.user), pk=task_id)
        return Response(TaskSerializer(task(job)).data)
