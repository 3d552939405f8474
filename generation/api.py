"""REST endpoints for jobs: thin views over services and selectors."""

from __future__ import annotations

import uuid

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import idempotency
from brands.api import style_choices_field
from core.api import Conflict, ModelSerializer, StrictSerializer
from core.openapi import error_response
from gallery.models import GeneratedImage
from gallery.selectors import image_urls, live_images_for
from templates_app.api import TemplateSlugField

from . import progress, scheduling, selectors, services
from .engine.models_catalog import MAX_IMAGES_PER_JOB, MAX_PROMPT_LENGTH, MODEL_NAMES, MODELS, SIZE_PRESETS
from .engine.template_inputs import MAX_TEXT_LENGTH
from .filters import JobFilter
from .image_input import OUTPAINT_ANCHORS
from .models import GenerationJob, JobStatus, ReferenceMethod

# The widest limits over all models; the job's own model narrows them at submit (with a message naming it).
MIN_SIDE = min(model.min_side for model in MODELS.values())
MAX_SIDE = max(model.max_side for model in MODELS.values())
MAX_STEPS = max(model.max_steps for model in MODELS.values())
MAX_GUIDANCE = max(model.max_guidance for model in MODELS.values())
# A painted mask of the largest canvas compresses to well under this (it is two colours).
MASK_DATA_URL_MAX = 4 * 1024 * 1024


class MaskField(serializers.CharField):
    """An upload's id (a mask you uploaded) or a PNG data URL (what the website's mask painter sends)."""

    def __init__(self, **kwargs):
        super().__init__(
            help_text="White repaints. An upload id, or data:image/png;base64,...; scaled to the source when their "
            "aspect ratios match (within 1 %), else refused.",
            **kwargs,
        )

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if len(value) > MASK_DATA_URL_MAX:
            raise serializers.ValidationError(_("The mask is too large: paint it at the image's size."))
        if value.startswith("data:"):
            return value
        try:
            return uuid.UUID(value)
        except ValueError:
            raise serializers.ValidationError(_("Must be an upload id or a PNG data URL.")) from None


class OutpaintSerializer(StrictSerializer):
    anchor = serializers.ChoiceField(choices=OUTPAINT_ANCHORS, default="center", help_text="Where the source sits.")
    size_preset = serializers.ChoiceField(choices=list(SIZE_PRESETS), required=False)
    width = serializers.IntegerField(required=False, min_value=MIN_SIDE, max_value=MAX_SIDE)
    height = serializers.IntegerField(required=False, min_value=MIN_SIDE, max_value=MAX_SIDE)


class JobCreateSerializer(StrictSerializer):
    prompt = serializers.CharField(max_length=MAX_PROMPT_LENGTH, trim_whitespace=True)
    production_path = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=32,
        help_text="fashion, beauty, eats, cinema or cartoon; default: the template's path, else fashion.",
    )
    template = TemplateSlugField(required=False, allow_null=True, help_text="A template's slug (its latest version).")
    model = serializers.ChoiceField(
        choices=MODEL_NAMES,
        required=False,
        source="model_name",
        help_text="z-image-turbo (default) or sdxl, or their full names; a template fixes its own. Steps, guidance "
        "and sizes are checked against this model's limits, and the estimate follows it.",
    )
    inputs = serializers.DictField(
        child=serializers.CharField(max_length=MAX_TEXT_LENGTH, allow_blank=True),
        required=False,
        help_text="The template's declared inputs by name (GET /api/v1/templates/{slug} lists them in "
        'config.inputs with their values), e.g. {"lighting_setup": "dramatic"}; each adds its words to the prompt.',
    )
    negative_prompt = serializers.CharField(required=False, allow_blank=True, max_length=MAX_PROMPT_LENGTH)
    size_preset = serializers.ChoiceField(choices=list(SIZE_PRESETS), required=False, help_text="Instead of a size.")
    width = serializers.IntegerField(
        required=False, min_value=MIN_SIDE, max_value=MAX_SIDE, help_text="Pixels, within the model's and plan's limit."
    )
    height = serializers.IntegerField(
        required=False, min_value=MIN_SIDE, max_value=MAX_SIDE, help_text="Pixels, within the model's and plan's limit."
    )
    num_images = serializers.IntegerField(required=False, default=1, min_value=1, max_value=MAX_IMAGES_PER_JOB)
    seed = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=services.MAX_SEED, help_text="Default: random."
    )
    steps = serializers.IntegerField(required=False, min_value=1, max_value=MAX_STEPS)
    guidance = serializers.FloatField(required=False, min_value=0, max_value=MAX_GUIDANCE)
    webhook_url = serializers.CharField(
        required=False, max_length=2000, help_text="Receives this job's signed events (see /api/v1/webhooks)."
    )
    webhook_events = serializers.ListField(
        child=serializers.CharField(max_length=32),
        required=False,
        max_length=4,
        help_text="Any of started, progress, image, completed; default: completed.",
    )
    source_image = serializers.UUIDField(
        required=False, allow_null=True, help_text="Start from this image: an upload's id or a gallery image's id."
    )
    strength = serializers.FloatField(
        required=False,
        min_value=0.05,
        max_value=1.0,
        help_text="How far from the source the model may go; default 0.6 (image-to-image), 1.0 (inpaint).",
    )
    mask = MaskField(required=False, allow_null=True)
    outpaint = OutpaintSerializer(required=False, allow_null=True)
    upscale_factor = serializers.ChoiceField(choices=[2, 4], required=False, help_text="Enlarge the source 2x or 4x.")
    styles = style_choices_field(
        required=False,
        help_text='Up to 3 LoRA styles, [{"id", "weight"}] (GET /api/v1/styles), made for the job\'s model; default: '
        "the template's styles, else the brand kit's defaults. Their trigger words join the prompt.",
    )
    brand_kit = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="One of your brand kits: palette, tone, words to avoid."
    )
    apply_logo = serializers.BooleanField(
        required=False, allow_null=True, help_text="Put the kit's logo on the images, where its logo_apply is per_job."
    )


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


class JobStyleSerializer(serializers.Serializer):
    """What a job recorded of one style it used (its snapshot, less the storage key)."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    weight = serializers.FloatField()
    trigger_words = serializers.CharField()
    base_model = serializers.CharField()
    sha256 = serializers.CharField()

    class Meta:
        fields = ("id", "name", "weight", "trigger_words", "base_model", "sha256")


class JobSerializer(ModelSerializer):
    template = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    source_image = serializers.SerializerMethodField(help_text="The upload or gallery image it started from.")
    mask = serializers.SlugRelatedField(slug_field="uuid", read_only=True, allow_null=True)
    percent = serializers.IntegerField(read_only=True)
    images = ImageSerializer(many=True, read_only=True)
    queue_position = serializers.SerializerMethodField(
        help_text="Queued: how many jobs on its production path start before it; null otherwise."
    )
    estimated_start_seconds = serializers.SerializerMethodField(
        help_text="Queued: about how many seconds until it starts; null otherwise."
    )
    reference_method = serializers.SerializerMethodField(
        help_text="How a character's reference image conditions the job; null when it has none."
    )
    styles = serializers.SerializerMethodField(help_text="The styles it applied, in order, as they were at submit.")

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
            "prompt_truncated",
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
            "mode",
            "source_image",
            "mask",
            "strength",
            "outpaint_anchor",
            "upscale_factor",
            "reference_method",
            "inputs",
            "created_at",
            "dispatched_at",
            "started_at",
            "finished_at",
            "canceled_at",
            "images",
            "queue_position",
            "estimated_start_seconds",
            "styles",
            "brand_kit",
            "apply_logo",
        )
        read_only_fields = fields

    def to_representation(self, instance: GenerationJob) -> dict:
        progress.overlay([instance])  # a running job's step is live in Redis; its row holds the last milestone
        return super().to_representation(instance)

    @extend_schema_field(JobStyleSerializer(many=True))
    def get_styles(self, job: GenerationJob) -> list[dict]:
        return [{name: style.get(name) for name in JobStyleSerializer.Meta.fields} for style in job.styles]

    def get_source_image(self, job: GenerationJob) -> str | None:
        source = job.source
        return str(source.uuid) if source is not None else None

    @extend_schema_field(serializers.ChoiceField(choices=ReferenceMethod.choices, allow_null=True))
    def get_reference_method(self, job: GenerationJob) -> str | None:
        return job.reference_method or None

    def _standing(self, job: GenerationJob) -> scheduling.Standing | None:
        """Both queue fields from one reading of the queue (2 queries; the two fields read it apart in 3 and 5)."""
        standings: dict[int, scheduling.Standing | None] = self.__dict__.setdefault("_standings", {})
        if job.pk not in standings:
            # A submit's job.queued event read it already (services._announce_new_job); else read it now.
            submitted = hasattr(job, "standing_at_submit")  # set on the instance only, None when not queued
            standings[job.pk] = job.standing_at_submit if submitted else scheduling.standing(job)
        return standings[job.pk]

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_queue_position(self, job: GenerationJob) -> int | None:
        place = self._standing(job)
        return place.position if place is not None else None

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_estimated_start_seconds(self, job: GenerationJob) -> float | None:
        place = self._standing(job)
        return place.estimated_start_seconds if place is not None else None


class JobAcceptedSerializer(JobSerializer):
    """The queued job, with how long it should take and, when the queue is down, a warning."""

    estimated_seconds = serializers.FloatField(read_only=True)
    warning = serializers.CharField(required=False, help_text="Present only when the job could not be enqueued yet.")

    class Meta(JobSerializer.Meta):
        fields = (*JobSerializer.Meta.fields, "estimated_seconds", "warning")


QUEUE_DOWN_WARNING = "The job queue is unreachable right now; your job is saved and will start when it is back."

JOB_EXAMPLE = {
    "id": 42,
    "status": "running",
    "production_path": "fashion",
    "template": "studio-white",
    "prompt": "linen summer dress on a model, white studio",
    "negative_prompt": "blurry",
    "enhanced_prompt": "linen summer dress on a model, white studio, studio light, clean background",
    "model": "Tongyi-MAI/Z-Image-Turbo",
    "scheduler": "FlowMatchEulerDiscrete",
    "steps": 9,
    "guidance": 0.0,
    "width": 1024,
    "height": 1024,
    "num_images": 2,
    "seed": 1234,
    "progress_step": 12,
    "progress_total": 18,
    "percent": 66,
    "images_done": 1,
    "retry_count": 0,
    "last_error": "",
    "credit_cost": 2,
    "created_at": "2026-05-01T09:30:00Z",
    "dispatched_at": "2026-05-01T09:30:00Z",
    "started_at": "2026-05-01T09:30:02Z",
    "finished_at": None,
    "canceled_at": None,
    "queue_position": None,
    "estimated_start_seconds": None,
    "styles": [
        {
            "id": 12,
            "name": "Linen catalogue",
            "weight": 0.8,
            "trigger_words": "lnncat style",
            "base_model": "Tongyi-MAI/Z-Image-Turbo",
            "sha256": "9f2c4b1e6a0d8c7b5e3f1a2d4c6b8e0f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b",
        }
    ],
    "brand_kit": 3,
    "apply_logo": True,
    "images": [
        {
            "id": "3f2b9c5e-8a61-4c1e-9b0d-2a7f4e6d1c80",
            "index": 0,
            "width": 1024,
            "height": 1024,
            "seed": 1234,
            "backend": "z-image-turbo",
            "urls": {
                "url": "https://files.example.com/...signed",
                "thumbnail_url": "https://files.example.com/...signed",
            },
        }
    ],
}
CREATE_EXAMPLES = [
    OpenApiExample(
        "A template job",
        value={
            "prompt": "linen summer dress on a model, white studio",
            "template": "studio-white",
            "num_images": 2,
            "seed": 1234,
        },
        request_only=True,
    ),
    OpenApiExample(
        "No template: path, size preset and overrides",
        value={
            "prompt": "a bowl of ramen, steam rising, overhead shot",
            "production_path": "eats",
            "size_preset": "4:3",
            "negative_prompt": "blurry, text",
            "steps": 9,
        },
        request_only=True,
    ),
    OpenApiExample(
        "A style and a brand kit",
        value={
            "prompt": "linen summer dress on a model, white studio",
            "production_path": "fashion",
            "styles": [{"id": 12, "weight": 0.8}],
            "brand_kit": 3,
            "apply_logo": True,
        },
        request_only=True,
    ),
    OpenApiExample(
        "Queued",
        value={
            **JOB_EXAMPLE,
            "status": "queued",
            "progress_step": 0,
            "percent": 0,
            "images_done": 0,
            "started_at": None,
            "images": [],
            "estimated_seconds": 2.8,
        },
        response_only=True,
        status_codes=["202"],
    ),
]
SUBMIT_ERRORS = {402: error_response(402), 409: error_response(409), 429: error_response(429)}


def _accepted(job: GenerationJob) -> dict:
    body = JobAcceptedSerializer(job).data  # the two extra fields are not attributes of a job: set here
    body["estimated_seconds"] = services.estimate_seconds(job)
    if job.dispatched_at is None:
        body["warning"] = QUEUE_DOWN_WARNING
    return body


class JobListCreateView(generics.ListAPIView):
    """Your jobs, newest first, by `?page=&page_size=`. (With `?skip=&limit=` this path answers document 002's
    plain list instead: compat.doc002.)"""

    serializer_class = JobSerializer
    filterset_class = JobFilter

    @extend_schema(summary="List your jobs")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.browse_jobs(self.request.user)

    @extend_schema(
        summary="Submit a job",
        request=JobCreateSerializer,
        responses={202: JobAcceptedSerializer, **SUBMIT_ERRORS},
        parameters=[idempotency.OPENAPI_PARAMETER],
        examples=CREATE_EXAMPLES,
    )
    @idempotency.idempotent
    def post(self, request):
        """Queue a job and answer at once (202); its credits are reserved now and settled when it finishes."""
        serializer = JobCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = services.submit_job_request(user=request.user, **serializer.validated_data)
        job._prefetched_objects_cache = {"images": GeneratedImage.objects.none()}  # a new job has none: no query
        return Response(_accepted(job), status=status.HTTP_202_ACCEPTED)


@extend_schema(
    summary="A job, with its progress and images",
    examples=[OpenApiExample("Running, one image done", value=JOB_EXAMPLE, response_only=True)],
)
class JobDetailView(generics.RetrieveAPIView):
    serializer_class = JobSerializer

    def get_queryset(self):
        return selectors.jobs_for(self.request.user)


class JobCancelView(APIView):
    @extend_schema(request=None, responses={200: JobSerializer}, summary="Cancel a job")
    def post(self, request, pk: int):
        """Queued: it never runs; running: it stops at its next step. The unproduced images' credits come back.
        A finished job is answered as it is."""
        job = get_object_or_404(selectors.jobs_for(request.user), pk=pk)
        job = services.cancel_job(job=job)
        return Response(JobSerializer(selectors.jobs_for(request.user).get(pk=job.pk)).data)


class JobRetryView(APIView):
    @extend_schema(
        request=None,
        responses={202: JobAcceptedSerializer, **SUBMIT_ERRORS},
        summary="Retry a failed job",
        parameters=[idempotency.OPENAPI_PARAMETER],
    )
    @idempotency.idempotent
    def post(self, request, pk: int):
        """Submit a failed job again as a new job with the same inputs (credits reserved again); 409 unless failed.
        Retrying the same job twice answers the job the first retry made."""
        job = get_object_or_404(selectors.jobs_for(request.user), pk=pk)
        if job.status != JobStatus.FAILED:
            raise Conflict(f"Only a failed job can be retried; job {job.pk} is {job.status}.")
        retry = services.retry_job(job=job)
        return Response(_accepted(selectors.jobs_for(request.user).get(pk=retry.pk)), status=status.HTTP_202_ACCEPTED)


# --- from a gallery image: variations, extend, upscale -------------------------------------------


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "enum": list(services.VARIATION_STRENGTHS)},
            {"type": "number", "minimum": 0.05, "maximum": 1.0},
        ]
    }
)
class VariationStrengthField(serializers.Field):
    """ "subtle", "strong", or a number from 0.05 to 1.0 (a string of one, from a form, too)."""

    def to_internal_value(self, data):
        if isinstance(data, str) and data in services.VARIATION_STRENGTHS:
            return data
        try:
            value = float(data)
        except (TypeError, ValueError):
            value = -1.0
        if isinstance(data, bool) or not 0.05 <= value <= 1.0:
            raise serializers.ValidationError(_("Use subtle, strong or a number between 0.05 and 1.0."))
        return value

    def to_representation(self, value):
        return value


class VariationsSerializer(StrictSerializer):
    strength = VariationStrengthField(
        required=False, default="subtle", help_text='"subtle" (0.35), "strong" (0.7), or a number 0.05-1.0.'
    )
    num_images = serializers.IntegerField(required=False, default=1, min_value=1, max_value=MAX_IMAGES_PER_JOB)


class ExtendSerializer(OutpaintSerializer):
    pass


class UpscaleSerializer(StrictSerializer):
    factor = serializers.ChoiceField(choices=[2, 4], default=2, help_text="4 where your plan allows it.")


class _FromImageView(APIView):
    """POST on one of your gallery images makes a new job from it (202, like POST /api/v1/jobs)."""

    input_serializer: type[serializers.Serializer]

    def submit(self, request, image: GeneratedImage, data: dict) -> GenerationJob:
        raise NotImplementedError

    @extend_schema(parameters=[idempotency.OPENAPI_PARAMETER])
    @idempotency.idempotent
    def post(self, request, pk):
        image = get_object_or_404(live_images_for(request.user).select_related("job__template"), uuid=pk)
        serializer = self.input_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = self.submit(request, image, serializer.validated_data)
        return Response(_accepted(selectors.jobs_for(request.user).get(pk=job.pk)), status=status.HTTP_202_ACCEPTED)


@extend_schema(request=VariationsSerializer, responses={202: JobAcceptedSerializer, **SUBMIT_ERRORS})
class ImageVariationsView(_FromImageView):
    """New takes on the image: its prompt and settings, a new seed, through image-to-image."""

    input_serializer = VariationsSerializer

    def submit(self, request, image, data):
        return services.vary_image(user=request.user, image=image, **data)


@extend_schema(request=ExtendSerializer, responses={202: JobAcceptedSerializer, **SUBMIT_ERRORS})
class ImageExtendView(_FromImageView):
    """The image placed on a larger canvas (a size preset, or width and height) and the new area drawn."""

    input_serializer = ExtendSerializer

    def submit(self, request, image, data):
        return services.extend_image(user=request.user, image=image, **data)


@extend_schema(request=UpscaleSerializer, responses={202: JobAcceptedSerializer, **SUBMIT_ERRORS})
class ImageUpscaleView(_FromImageView):
    """The image enlarged exactly 2x (or 4x), its detail refined tile by tile."""

    input_serializer = UpscaleSerializer

    def submit(self, request, image, data):
        return services.upscale_image(user=request.user, image=image, **data)
