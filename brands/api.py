"""REST endpoints for styles (LoRA adapters) and brand kits: thin views over brands.services and brands.selectors."""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ModelSerializer, StrictSerializer
from core.openapi import error_response
from gallery.selectors import signed_url
from generation.engine.models_catalog import MODELS

from . import selectors, services
from .models import (
    LOGO_MARGIN_RANGE,
    LOGO_OPACITY_RANGE,
    LOGO_SCALE_RANGE,
    MAX_PALETTE_COLOURS,
    MAX_STYLE_WEIGHT,
    MAX_STYLES_PER_JOB,
    MIN_STYLE_WEIGHT,
    BrandKit,
    LogoApply,
    LogoCorner,
    Style,
)

BASE_MODEL_HELP = f"The model the LoRA was trained for: {', '.join(MODELS)}."


class StyleChoiceSerializer(StrictSerializer):
    """One style a job (or a kit's defaults) uses: `{"id", "weight"}`; the weight defaults to the style's own."""

    id = serializers.IntegerField(min_value=1, help_text="A style's id (GET /api/v1/styles).")
    weight = serializers.FloatField(
        required=False, min_value=MIN_STYLE_WEIGHT, max_value=MAX_STYLE_WEIGHT, help_text="-2 to 2; 0 turns it off."
    )


def style_choices_field(**kwargs) -> serializers.ListField:
    """`[{"id", "weight"}]`, up to three: a job's, a story's, a batch's or a kit's styles."""
    return serializers.ListField(child=StyleChoiceSerializer(), max_length=MAX_STYLES_PER_JOB, **kwargs)


# --- styles ----------------------------------------------------------------------------------------


class StyleCreateSerializer(StrictSerializer):
    file = serializers.FileField(help_text="A .safetensors LoRA (multipart).")
    name = serializers.CharField(max_length=100)
    base_model = serializers.ChoiceField(choices=list(MODELS), help_text=BASE_MODEL_HELP)
    trigger_words = serializers.CharField(required=False, allow_blank=True, max_length=300)
    default_weight = serializers.FloatField(
        required=False, default=1.0, min_value=MIN_STYLE_WEIGHT, max_value=MAX_STYLE_WEIGHT
    )


class StyleUpdateSerializer(StrictSerializer):
    name = serializers.CharField(required=False, max_length=100)
    trigger_words = serializers.CharField(required=False, allow_blank=True, max_length=300)
    default_weight = serializers.FloatField(required=False, min_value=MIN_STYLE_WEIGHT, max_value=MAX_STYLE_WEIGHT)


class StyleSerializer(ModelSerializer):
    public = serializers.BooleanField(source="is_public", read_only=True, help_text="In everyone's library.")
    preview_url = serializers.SerializerMethodField(help_text="Signed; expires. Null when it has no preview.")

    class Meta:
        model = Style
        fields = (
            "id",
            "name",
            "base_model",
            "trigger_words",
            "default_weight",
            "public",
            "file_size",
            "sha256",
            "preview_url",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_preview_url(self, style: Style) -> str | None:
        return signed_url(str(style.preview.name)) if style.preview else None


STYLE_EXAMPLE = {
    "id": 12,
    "name": "Linen catalogue",
    "base_model": "Tongyi-MAI/Z-Image-Turbo",
    "trigger_words": "lnncat style",
    "default_weight": 0.8,
    "public": False,
    "file_size": 23_456_789,
    "sha256": "9f2c4b1e6a0d8c7b5e3f1a2d4c6b8e0f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b",
    "preview_url": None,
    "created_at": "2026-05-01T09:30:00Z",
    "updated_at": "2026-05-01T09:30:00Z",
}


def _own_style(request, pk: int) -> Style:
    """A style the user may change: their own; a public one is read-only (403), another's private one absent."""
    try:
        style = selectors.style_get(user=request.user, style_id=pk)
    except Style.DoesNotExist:
        raise Http404 from None
    if style.is_public:
        raise PermissionDenied(_("Public styles are read-only; staff manage them."))
    return style


class StyleListCreateView(generics.ListAPIView):
    """The public style library and your own styles, by name."""

    serializer_class = StyleSerializer

    def get_queryset(self):
        return selectors.styles_visible_to(user=self.request.user)

    @extend_schema(summary="List the styles you can use")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Upload a style",
        request={"multipart/form-data": StyleCreateSerializer},
        responses={201: StyleSerializer},
        examples=[
            OpenApiExample(
                "Uploaded",
                value=STYLE_EXAMPLE,
                response_only=True,
                status_codes=["201"],
            )
        ],
    )
    def post(self, request):
        """A LoRA (`.safetensors`, multipart `file`) for your private library, within your plan's number of
        private styles: checked from its header (never unpickled, never run) against the base model's layout."""
        serializer = StyleCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        style = services.style_create(owner=request.user, **serializer.validated_data)
        return Response(StyleSerializer(style).data, status=status.HTTP_201_CREATED)


class StyleDetailView(APIView):
    @extend_schema(
        summary="A style",
        responses={200: StyleSerializer},
        examples=[OpenApiExample("Private", value=STYLE_EXAMPLE, response_only=True)],
    )
    def get(self, request, pk: int):
        try:
            style = selectors.style_get(user=request.user, style_id=pk)
        except Style.DoesNotExist:
            raise Http404 from None
        return Response(StyleSerializer(style).data)

    @extend_schema(
        summary="Change a style",
        request=StyleUpdateSerializer,
        responses={200: StyleSerializer, 403: error_response(403)},
        examples=[OpenApiExample("Rename", value={"name": "Linen catalogue 2"}, request_only=True)],
    )
    def patch(self, request, pk: int):
        """Its name, trigger words or default weight (yours only)."""
        style = _own_style(request, pk)
        serializer = StyleUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(StyleSerializer(services.style_update(style=style, **serializer.validated_data)).data)

    @extend_schema(summary="Delete a style", responses={204: None, 403: error_response(403), 409: error_response(409)})
    def delete(self, request, pk: int):
        """Yours only; 409 while a queued or running job still uses it. Finished jobs keep what they recorded."""
        services.style_delete(style=_own_style(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- brand kits ----------------------------------------------------------------------------------


class BrandKitInputSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    palette = serializers.ListField(
        child=serializers.CharField(max_length=7),
        required=False,
        max_length=MAX_PALETTE_COLOURS,
        help_text="Up to 8 colours as #rrggbb.",
    )
    tone_words = serializers.CharField(required=False, allow_blank=True, max_length=300)
    avoid_words = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=300,
        help_text="Added to every job's negative prompt.",
    )
    default_styles = style_choices_field(required=False)
    logo = serializers.FileField(
        required=False,
        allow_null=True,
        help_text="An image (a PNG with transparency is best), multipart; re-encoded to PNG. null removes it.",
    )
    logo_corner = serializers.ChoiceField(choices=LogoCorner.choices, required=False)
    logo_margin = serializers.FloatField(required=False, min_value=LOGO_MARGIN_RANGE[0], max_value=LOGO_MARGIN_RANGE[1])
    logo_scale = serializers.FloatField(required=False, min_value=LOGO_SCALE_RANGE[0], max_value=LOGO_SCALE_RANGE[1])
    logo_opacity = serializers.FloatField(
        required=False, min_value=LOGO_OPACITY_RANGE[0], max_value=LOGO_OPACITY_RANGE[1]
    )
    logo_apply = serializers.ChoiceField(choices=LogoApply.choices, required=False)


class BrandKitUpdateSerializer(BrandKitInputSerializer):
    name = serializers.CharField(max_length=100, required=False)


class BrandKitSerializer(ModelSerializer):
    logo_url = serializers.SerializerMethodField(help_text="Signed; expires. Null without a logo.")

    class Meta:
        model = BrandKit
        fields = (
            "id",
            "name",
            "palette",
            "tone_words",
            "avoid_words",
            "default_styles",
            "logo_url",
            "logo_corner",
            "logo_margin",
            "logo_scale",
            "logo_opacity",
            "logo_apply",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_logo_url(self, kit: BrandKit) -> str | None:
        return signed_url(str(kit.logo.name)) if kit.logo else None


KIT_REQUEST_EXAMPLE = {
    "name": "Spring campaign",
    "palette": ["#1b2a4a", "#ff7f50", "#ffffff"],
    "tone_words": "playful, confident",
    "avoid_words": "clutter, neon",
    "default_styles": [{"id": 12, "weight": 0.8}],
    "logo_apply": "none",
}
KIT_EXAMPLE = {
    "id": 3,
    **KIT_REQUEST_EXAMPLE,
    "logo_url": None,
    "logo_corner": "bottom-right",
    "logo_margin": 0.03,
    "logo_scale": 0.15,
    "logo_opacity": 1.0,
    "created_at": "2026-05-01T09:30:00Z",
    "updated_at": "2026-05-01T09:30:00Z",
}


def _kit(request, pk: int) -> BrandKit:
    try:
        return selectors.brand_kit_get(user=request.user, kit_id=pk)
    except BrandKit.DoesNotExist:
        raise Http404 from None


class BrandKitListCreateView(generics.ListAPIView):
    """Your brand kits, by name."""

    serializer_class = BrandKitSerializer

    def get_queryset(self):
        return selectors.brand_kits_of(user=self.request.user)

    @extend_schema(summary="List your brand kits")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Make a brand kit",
        request={"application/json": BrandKitInputSerializer, "multipart/form-data": BrandKitInputSerializer},
        responses={201: BrandKitSerializer},
        examples=[
            OpenApiExample("A kit", value=KIT_REQUEST_EXAMPLE, request_only=True),
            OpenApiExample("Made", value=KIT_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    )
    def post(self, request):
        """JSON, or multipart to send its `logo` too; within your plan's number of brand kits."""
        serializer = BrandKitInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        kit = services.brand_kit_create(owner=request.user, **serializer.validated_data)
        return Response(BrandKitSerializer(kit).data, status=status.HTTP_201_CREATED)


class BrandKitDetailView(APIView):
    @extend_schema(
        summary="A brand kit",
        responses={200: BrandKitSerializer},
        examples=[OpenApiExample("A kit", value=KIT_EXAMPLE, response_only=True)],
    )
    def get(self, request, pk: int):
        return Response(BrandKitSerializer(_kit(request, pk)).data)

    @extend_schema(
        summary="Change a brand kit",
        request={"application/json": BrandKitUpdateSerializer, "multipart/form-data": BrandKitUpdateSerializer},
        responses={200: BrandKitSerializer},
        examples=[
            OpenApiExample(
                "Logo on chosen jobs", value={"logo_apply": "per_job", "logo_corner": "top-left"}, request_only=True
            )
        ],
    )
    def patch(self, request, pk: int):
        """Any of its fields; a new `logo` (multipart) replaces the old one, `"logo": null` removes it."""
        kit = _kit(request, pk)
        serializer = BrandKitUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(BrandKitSerializer(services.brand_kit_update(kit=kit, **serializer.validated_data)).data)

    @extend_schema(summary="Delete a brand kit", responses={204: None})
    def delete(self, request, pk: int):
        """The kit and its logo; jobs that used it keep their images."""
        services.brand_kit_delete(kit=_kit(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
