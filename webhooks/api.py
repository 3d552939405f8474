"""REST endpoints for webhooks: the account's endpoints, the per-job signing secret, deliveries and redelivery."""

from __future__ import annotations

from django.apps import apps
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ModelSerializer, StrictSerializer

from . import selectors, services
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

EVENTS_HELP = _("Any of started, progress, image, completed (succeeded, failed or canceled); default: completed.")


class EndpointInputSerializer(StrictSerializer):
    url = serializers.CharField(max_length=2000, help_text=_("https:// (http:// only where the server allows it)."))
    events = serializers.ListField(
        child=serializers.CharField(max_length=32), required=False, max_length=len(WebhookEvent), help_text=EVENTS_HELP
    )
    description = serializers.CharField(required=False, allow_blank=True, max_length=200)


class EndpointUpdateSerializer(EndpointInputSerializer):
    url = serializers.CharField(max_length=2000, required=False)


class EndpointSerializer(ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = ("id", "url", "events", "description", "created_at", "updated_at")
        read_only_fields = fields


class EndpointWithSecretSerializer(EndpointSerializer):
    """The endpoint with its signing secret: answered only when it is created or its secret rotated."""

    class Meta(EndpointSerializer.Meta):
        fields = (*EndpointSerializer.Meta.fields, "secret")
        read_only_fields = fields


class AttemptSerializer(ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ("number", "started_at", "status_code", "duration_ms", "error", "next_retry_at")
        read_only_fields = fields


class DeliverySerializer(ModelSerializer):
    webhook = serializers.IntegerField(source="endpoint_id", read_only=True)
    url = serializers.CharField(source="endpoint.url", read_only=True)
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = (
            "id",
            "message_id",
            "webhook",
            "url",
            "job",
            "event_type",
            "status",
            "attempts",
            "next_attempt_at",
            "created_at",
            "finished_at",
            "attempt_log",
        )
        read_only_fields = fields


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text=_("whsec_...: signs the webhooks given per job (webhook_url)."))
    rotated_at = serializers.DateTimeField()


SECRET_EXAMPLE = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 (the schema's example, not a secret)
ENDPOINT_EXAMPLES = [
    OpenApiExample(
        "Completed jobs to my server",
        value={"url": "https://example.com/hooks/zimage", "events": ["started", "completed"], "description": "CRM"},
        request_only=True,
    ),
    OpenApiExample(
        "Created",
        value={
            "id": 7,
            "url": "https://example.com/hooks/zimage",
            "events": ["started", "completed"],
            "description": "CRM",
            "created_at": "2026-05-01T09:30:00Z",
            "updated_at": "2026-05-01T09:30:00Z",
            "secret": SECRET_EXAMPLE,
        },
        response_only=True,
        status_codes=["201"],
    ),
]


class EndpointListCreateView(generics.ListAPIView):
    """Your account's webhooks: each receives the events it subscribes to, for every job of yours."""

    serializer_class = EndpointSerializer

    def get_queryset(self):
        return selectors.endpoints_for(self.request.user)

    @extend_schema(summary="List your webhooks")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Add a webhook",
        request=EndpointInputSerializer,
        responses={201: EndpointWithSecretSerializer},
        examples=ENDPOINT_EXAMPLES,
    )
    def post(self, request):
        """The answer carries the signing secret (`whsec_...`) once; keep it to verify the deliveries."""
        serializer = EndpointInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(owner=request.user, **serializer.validated_data)
        return Response(EndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class EndpointDetailView(APIView):
    @extend_schema(summary="A webhook", responses={200: EndpointSerializer})
    def get(self, request, pk: int):
        return Response(EndpointSerializer(get_object_or_404(selectors.endpoints_for(request.user), pk=pk)).data)

    @extend_schema(summary="Change a webhook", request=EndpointUpdateSerializer, responses={200: EndpointSerializer})
    def patch(self, request, pk: int):
        endpoint = get_object_or_404(selectors.endpoints_for(request.user), pk=pk)
        serializer = EndpointUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(endpoint=endpoint, **serializer.validated_data)
        return Response(EndpointSerializer(endpoint).data)

    @extend_schema(summary="Delete a webhook", responses={204: None})
    def delete(self, request, pk: int):
        services.endpoint_delete(endpoint=get_object_or_404(selectors.endpoints_for(request.user), pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointRotateSecretView(APIView):
    @extend_schema(summary="Rotate a webhook's secret", request=None, responses={200: EndpointWithSecretSerializer})
    def post(self, request, pk: int):
        """A new secret signs every delivery from now on; the answer shows it once."""
        endpoint = get_object_or_404(selectors.endpoints_for(request.user), pk=pk)
        return Response(EndpointWithSecretSerializer(services.endpoint_rotate_secret(endpoint=endpoint)).data)


class DefaultSecretView(APIView):
    @extend_schema(summary="The secret of per-job webhooks", responses={200: SecretSerializer})
    def get(self, request):
        """Signs the webhooks a job is submitted with (`webhook_url`); made on first use."""
        return Response(SecretSerializer(services.signing_secret_for(owner=request.user)).data)

    @extend_schema(summary="Rotate the secret of per-job webhooks", request=None, responses={200: SecretSerializer})
    def post(self, request):
        """Jobs submitted from now on are signed with the new secret."""
        return Response(SecretSerializer(services.signing_secret_for(owner=request.user, rotate=True)).data)


class EndpointDeliveryListView(generics.ListAPIView):
    """Every event sent to this webhook, newest first, each with its attempts."""

    serializer_class = DeliverySerializer

    @extend_schema(summary="A webhook's deliveries")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        endpoint = get_object_or_404(selectors.endpoints_for(self.request.user), pk=self.kwargs["pk"])
        return selectors.deliveries_for(self.request.user).filter(endpoint=endpoint)


class JobDeliveryListView(generics.ListAPIView):
    """Every webhook delivery of one job of yours (its own webhook and your account's), newest first."""

    serializer_class = DeliverySerializer

    @extend_schema(summary="A job's webhook deliveries")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        jobs = apps.get_model("generation", "GenerationJob").objects
        if not jobs.filter(pk=self.kwargs["pk"], owner=self.request.user).exists():
            raise Http404
        return selectors.deliveries_for(self.request.user).filter(job_id=self.kwargs["pk"])


class RedeliverView(APIView):
    @extend_schema(summary="Send a delivery again", request=None, responses={202: DeliverySerializer})
    def post(self, request, delivery_id: int, pk: int | None = None, job_id: int | None = None):
        """Now, with the same webhook-id (so a receiver that already has it can tell)."""
        deliveries = selectors.deliveries_for(request.user)
        if pk is not None:
            deliveries = deliveries.filter(endpoint_id=pk, endpoint__job__isnull=True)
        if job_id is not None:
            deliveries = deliveries.filter(job_id=job_id)
        delivery = services.redeliver(delivery=get_object_or_404(deliveries, pk=delivery_id))
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
