"""Compatible with document 004: a scene's image at `POST /api/v1/chapters/{chapter_id}/images/scenes/{n}` and
its state at `GET .../status`, with the document's words (`pending`, `in_progress`, `completed`, `failed`).

The same scene jobs as `POST /api/v1/chapters/{chapter_id}/scenes/{n}/images` (scenes.services); only the path,
the status words and the answer's fields differ.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import idempotency
from gallery.selectors import image_urls
from generation.api import SUBMIT_ERRORS
from generation.models import JobStatus
from scenes import selectors, services
from scenes.api import GenerateSceneSerializer, get_scene
from scenes.models import StoryImageRequest

from .common import LegacyView, error_message

TAG = "compatible with document 004"
SCENE_WORDS: dict[str, str] = {
    JobStatus.QUEUED: "pending",
    JobStatus.RUNNING: "in_progress",
    JobStatus.SUCCEEDED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELED: "failed",
}


class SceneImageAnswerSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The scene's image request.")
    chapter_id = serializers.IntegerField()
    scene_number = serializers.IntegerField()
    job_id = serializers.IntegerField()
    status = serializers.CharField(help_text="pending, in_progress, completed or failed (canceled reads failed).")
    image_url = serializers.CharField(allow_null=True, help_text="Signed; null until the image exists.")
    error_message = serializers.CharField(allow_null=True)
    retry_count = serializers.IntegerField()


def scene_image_status(request: StoryImageRequest) -> dict[str, Any]:
    job = request.job
    first = next(iter(job.images.all()), None)
    return {
        "id": request.pk,
        "chapter_id": request.scene.chapter_id if request.scene is not None else None,
        "scene_number": request.scene_number,
        "job_id": job.pk,
        "status": SCENE_WORDS[job.status],
        "image_url": image_urls(first)["url"] if first is not None else None,
        "error_message": error_message(job),
        "retry_count": job.retry_count,
    }


class SceneImageView(LegacyView):
    @extend_schema(
        summary="Generate a scene's image (document 004)",
        tags=[TAG],
        request=GenerateSceneSerializer,
        responses={202: SceneImageAnswerSerializer, **SUBMIT_ERRORS},
        parameters=[idempotency.OPENAPI_PARAMETER],
    )
    @idempotency.idempotent
    def post(self, request: Request, chapter_id: int, scene_number: int) -> Response:
        scene = get_scene(request.user, chapter_id, scene_number)
        body = GenerateSceneSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        queued = services.generate_scene_image(scene=scene, **body.validated_data)
        return Response(SceneImageAnswerSerializer(scene_image_status(queued)).data, status=status.HTTP_202_ACCEPTED)


class SceneImageStatusView(LegacyView):
    @extend_schema(
        summary="A scene image's status (document 004)", tags=[TAG], responses={200: SceneImageAnswerSerializer}
    )
    def get(self, request: Request, chapter_id: int, scene_number: int) -> Response:
        scene = get_scene(request.user, chapter_id, scene_number)
        latest = selectors.latest_image_request(scene=scene)
        if latest is None:
            raise exceptions.NotFound(
                _("No image has been requested for scene %(scene_number)s yet.") % {"scene_number": scene_number}
            )
        return Response(SceneImageAnswerSerializer(scene_image_status(latest)).data)
