"""REST endpoints for jobs: thin views over services and selectors."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import idempotency
from gallery.selectors import image_urls
from templates_app.api import TemplateSlugField

from . import selectors, services
from .catalog import MAX_IMAGES_PER_JOB, MAX_PROMPT_LENGTH, SIZE_PRESETS
from .models import GenerationJob


class StrictSerializer(serializers.Serializer):
    """Unknown fields in a body are an error, not silently ignored."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = set(data) - set(self.fields)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in sorted(unknown)})
        return super().to_internal_value(data)


class JobCreateSerializer(StrictSerializer):
    prompt = serializers.CharField(max_length=MAX_PROMPT_LENGTH, trim_whitespace=True)
    production_path = serializers.CharField(required=False, allow_blank=True, max_length=32)
    template = TemplateSlugField(required=False, allow_null=True)  # the slug's latest active version
    negative_prompt = serializers.CharField(required=False, allow_blank=True, max_length=MAX_PROMPT_LENGTH)
    size_preset = serializers.ChoiceField(choices=list(SIZE_PRESETS), required=False)
    width = serializers.IntegerField(required=False)
    height = serializers.IntegerField(required=False)
    num_images = serializers.IntegerField(required=False, default=1, min_value=1, max_value=MAX_IMAGES_PER_JOB)
    seed = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=services.MAX_SEED)
    steps = serializers.IntegerField(required=False, min_value=1)
    guidance = serializers.FloatField(required=False, min_value=0)


class ImageSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="uuid")
    index = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    seed = serializers.IntegerField()
    backend = serializers.CharField()
    urls = serializers.SerializerMethodField()

    def get_urls(self, image) -> dict[str, str]:
        return image_urls(image)


class JobSerializer(serializers.ModelSerializer):
    template = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    percent = serializers.IntegerField(read_only=True)
    images = ImageSerializer(many=True, read_only=True)

    class Meta:
        model = GenerationJob
        fields = (
            "id",
            "status",
            "production_path",
            "template",
            "prompt",
            "negative_prompt",
            "enhanced_prompt",
            "model",
            "scheduler",
            "steps",
            "guidance",
            "width",
            "height",
            "num_images",
            "seed",
            "progress_step",
            "progress_total",
            "percent",
            "images_done",
            "retry_count",
            "last_error",
            "credit_cost",
            "created_at",
            "dispatched_at",
            "started_at",
            "finished_at",
            "canceled_at",
            "images",
        )
        read_only_fields = fields


class JobListCreateView(generics.ListAPIView):
    serializer_class = JobSerializer

    def get_queryset(self):
        return selectors.jobs_for(self.request.user)

    @extend_schema(
        request=JobCreateSerializer, responses={202: JobSerializer}, parameters=[idempotency.OPENAPI_PARAMETER]
    )
    @idempotency.idempotent
    def post(self, request):
        serializer = JobCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = services.submit_job(user=request.user, **serializer.validated_data)
        body = JobSerializer(job).data
        body["estimated_seconds"] = services.estimate_seconds(job)
        if job.dispatched_at is None:
            body["warning"] = (
                "The job queue is unreachable right now; your job is saved and will start when it is back."
            )
        return Response(body, status=status.HTTP_202_ACCEPTED)


class JobDetailView(generics.RetrieveAPIView):
    serializer_class = JobSerializer

    def get_queryset(self):
        return selectors.jobs_for(self.request.user)


class JobCancelView(APIView):
    @extend_schema(request=None, responses={200: JobSerializer})
    def post(self, request, pk: int):
        job = get_object_or_404(selectors.jobs_for(request.user), pk=pk)
        job = services.cancel_job(job=job)
        return Response(JobSerializer(selectors.jobs_for(request.user).get(pk=job.pk)).data)
