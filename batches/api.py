"""REST endpoints for campaign batches: thin views over batches.services and batches.selectors."""

from __future__ import annotations

from django.core.handlers.asgi import ASGIRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import idempotency
from accounts.tiers import DEFAULT_TIERS
from brands.api import style_choices_field
from brands.services import brand_kit_for_job
from core.api import Conflict, ModelSerializer, Pagination, StrictSerializer
from core.openapi import error_response
from gallery.downloads import zip_response
from generation.api import JobCreateSerializer
from generation.engine.models_catalog import SIZE_PRESETS
from generation.models import JobStatus

from . import selectors, services
from .models import Batch, BatchJob

# A bound on the body; the owner's own plan (max_batch_jobs) is checked by the service, a 400 naming the field.
MAX_PROMPTS = max(limits.max_batch_jobs for limits in DEFAULT_TIERS.values())


def job_field(name: str, **overrides) -> serializers.Field:
    """A field of the jobs API's input as declared there (type, limits, help text), so the two cannot drift."""
    declared = JobCreateSerializer._declared_fields[name]
    return type(declared)(*declared._args, **{**declared._kwargs, **overrides})


class BatchCreateSerializer(StrictSerializer):
    prompt = job_field("prompt", required=False, help_text="One prompt for every size; or send prompts.")
    prompts = serializers.ListField(
        child=job_field("prompt"),
        required=False,
        min_length=1,
        max_length=MAX_PROMPTS,
        help_text="Several prompts: one job per size each.",
    )
    size_presets = serializers.ListField(
        child=serializers.ChoiceField(choices=list(SIZE_PRESETS)),
        min_length=1,
        max_length=len(SIZE_PRESETS),
        help_text="The channel sizes to draw each prompt at (GET /api/v1/size-presets).",
    )
    production_path = job_field("production_path")
    template = job_field("template")
    negative_prompt = job_field("negative_prompt")
    num_images = job_field("num_images")
    seed = job_field("seed", help_text="The same seed for every job; default: a random one each.")
    steps = job_field("steps")
    guidance = job_field("guidance")
    styles = style_choices_field(
        required=False, help_text='Up to 3 LoRA styles, [{"id", "weight"}], for every job (default: as for one job).'
    )
    brand_kit = job_field("brand_kit", help_text="One of your brand kits, for every job.")
    apply_logo = job_field("apply_logo")

    def validate_size_presets(self, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise serializers.ValidationError(_("Name each size preset once."))
        return value

    def validate(self, attrs: dict) -> dict:
        prompt, prompts = attrs.pop("prompt", None), attrs.get("prompts")
        if prompt is not None and prompts is not None:
            raise serializers.ValidationError({"prompts": [_("Send prompt or prompts, not both.")]})
        if prompt is None and prompts is None:
            raise serializers.ValidationError({"prompt": [_("Send a prompt, or a list of prompts.")]})
        if prompts is None:
            attrs["prompts"] = [prompt]
        return attrs


class BatchJobSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="job_id", read_only=True)
    status = serializers.ChoiceField(source="job.status", choices=JobStatus.choices, read_only=True)
    width = serializers.IntegerField(source="job.width", read_only=True)
    height = serializers.IntegerField(source="job.height", read_only=True)
    num_images = serializers.IntegerField(source="job.num_images", read_only=True)
    images_done = serializers.IntegerField(source="job.images_done", read_only=True)
    percent = serializers.IntegerField(source="job.percent", read_only=True)
    credit_cost = serializers.IntegerField(source="job.credit_cost", read_only=True)

    class Meta:
        model = BatchJob
        fields = (
            "id",
            "position",
            "prompt",
            "size_preset",
            "width",
            "height",
            "num_images",
            "status",
            "images_done",
            "percent",
            "credit_cost",
        )
        read_only_fields = fields


class BatchSerializer(ModelSerializer):
    template = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    job_count = serializers.SerializerMethodField()
    counts = serializers.SerializerMethodField(help_text="How many of its jobs are in each status.")
    jobs = BatchJobSerializer(source="entries", many=True, read_only=True)

    class Meta:
        model = Batch
        fields = (
            "id",
            "production_path",
            "template",
            "parameters",
            "total_cost",
            "created_at",
            "job_count",
            "counts",
            "jobs",
        )
        read_only_fields = fields

    def get_job_count(self, batch: Batch) -> int:
        return len(batch.entries.all())

    def get_counts(self, batch: Batch) -> dict[str, int]:
        return selectors.status_counts(batch)


BATCH_EXAMPLE = {
    "id": 7,
    "production_path": "fashion",
    "template": None,
    "parameters": {"num_images": 1, "negative_prompt": "blurry"},
    "total_cost": 3,
    "created_at": "2026-05-01T09:30:00Z",
    "job_count": 3,
    "counts": {"queued": 2, "running": 1, "succeeded": 0, "failed": 0, "canceled": 0},
    "jobs": [
        {
            "id": 101 + i,
            "position": i,
            "prompt": "linen summer dress, white studio",
            "size_preset": preset,
            "width": width,
            "height": height,
            "num_images": 1,
            "status": "running" if i == 0 else "queued",
            "images_done": 0,
            "percent": 40 if i == 0 else 0,
            "credit_cost": 1,
        }
        for i, (preset, (width, height)) in enumerate((p, SIZE_PRESETS[p]) for p in ("1:1", "9:16", "16:9"))
    ],
}
CREATE_EXAMPLES = [
    OpenApiExample(
        "One prompt at three channel sizes",
        value={"prompt": "linen summer dress, white studio", "size_presets": ["1:1", "9:16", "16:9"]},
        request_only=True,
    ),
    OpenApiExample(
        "Two prompts x two sizes, a template",
        value={
            "prompts": ["red sneaker on concrete", "white sneaker on sand"],
            "size_presets": ["instagram", "facebook_cover"],
            "template": "studio-white",
            "num_images": 2,
        },
        request_only=True,
    ),
    OpenApiExample("Queued", value=BATCH_EXAMPLE, response_only=True, status_codes=["202"]),
]
DETAIL_EXAMPLE = [OpenApiExample("Running", value=BATCH_EXAMPLE, response_only=True)]


class BatchListCreateView(generics.ListAPIView):
    """Your campaign batches, newest first."""

    serializer_class = BatchSerializer
    pagination_class = Pagination

    def get_queryset(self):
        return selectors.batches_for(self.request.user)

    @extend_schema(summary="List your batches")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Create a campaign batch",
        request=BatchCreateSerializer,
        responses={202: BatchSerializer, 402: error_response(402), 409: error_response(409), 429: error_response(429)},
        parameters=[idempotency.OPENAPI_PARAMETER],
        examples=CREATE_EXAMPLES,
    )
    @idempotency.idempotent
    def post(self, request):
        """A job per prompt x size preset, sharing the other fields (202). All or nothing: the whole batch's
        credits are reserved in one transaction (402 with the total otherwise); more jobs than the plan's
        `max_batch_jobs` is a 400 on `size_presets` (and `prompts`)."""
        serializer = BatchCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        data["brand_kit"] = brand_kit_for_job(user=request.user, kit_id=data.pop("brand_kit", None))
        batch = services.batch_create(user=request.user, **data)
        return Response(
            BatchSerializer(selectors.batches_for(request.user).get(pk=batch.pk)).data,
            status=status.HTTP_202_ACCEPTED,
        )


@extend_schema(summary="A batch: its jobs and how many are in each status", examples=DETAIL_EXAMPLE)
class BatchDetailView(generics.RetrieveAPIView):
    serializer_class = BatchSerializer

    def get_queryset(self):
        return selectors.batches_for(self.request.user)


class BatchCancelView(APIView):
    @extend_schema(request=None, responses={200: BatchSerializer}, summary="Cancel a batch's unfinished jobs")
    def post(self, request, pk: int):
        """Queued jobs never run, running ones stop at their next step; the unproduced images' credits come back.
        Finished jobs keep their images."""
        batch = get_object_or_404(selectors.batches_for(request.user), pk=pk)
        services.batch_cancel(batch=batch)
        return Response(BatchSerializer(selectors.batches_for(request.user).get(pk=pk)).data)


class BatchDownloadView(APIView):
    @extend_schema(
        summary="Download a batch's images as a zip",
        responses={
            (200, "application/zip"): OpenApiTypes.BINARY,
            409: error_response(409, "None of its images is ready yet (or all were trashed)."),
        },
    )
    def get(self, request, pk: int):
        """The images its jobs produced, named `<prompt-slug>_<size-preset>_<n>.png` (16:9 written 16x9), streamed."""
        batch = get_object_or_404(selectors.batches_for(request.user), pk=pk)
        entries = selectors.zip_entries(batch)
        if not entries:
            raise Conflict(_("No image of this batch is ready yet."))
        return zip_response(
            entries,
            filename=f"zimage-batch-{batch.pk}.zip",
            asynchronous=isinstance(request._request, ASGIRequest),
        )
