"""REST endpoints for templates, production paths, size presets and prompt presets."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, permissions, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ModelSerializer, StrictSerializer, StrictSerializerMixin
from gallery.selectors import signed_url
from generation.engine.models_catalog import SIZE_PRESETS
from generation.engine.paths import PATH_CHOICES, PATHS

from . import selectors, services
from .filters import PromptPresetFilter, TemplateFilter
from .models import PromptPreset, Template


class TemplateSlugField(serializers.SlugRelatedField):
    """A template named by slug, resolved to its latest active version (older versions are history)."""

    # One queryset for every copy (DRF re-evaluates it with .all()): DRF copies a submit's fields on every
    # request, and building it in __init__ cost 35 us of the field's 44 us copy.
    queryset = Template.objects.listed()

    def __init__(self, **kwargs: Any):
        super().__init__(slug_field="slug", **kwargs)

    def to_internal_value(self, data: Any) -> Template:
        if not isinstance(data, str):
            self.fail("invalid")
        template = selectors.template_for_jobs(data)
        if template is None:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return template


class TemplateSerializer(ModelSerializer):
    cost = serializers.IntegerField(source="credit_cost", read_only=True)
    preview_url = serializers.SerializerMethodField()
    model = serializers.CharField(source="config.model", read_only=True)
    defaults = serializers.SerializerMethodField()
    style_prompts = serializers.SerializerMethodField()

    class Meta:
        model = Template
        fields = (
            "slug",
            "name",
            "version",
            "production_path",
            "description",
            "sample_prompt",
            "cost",
            "preview_url",
            "model",
            "defaults",
            "style_prompts",
            "overridable",
            "bounds",
            "max_images",
        )
        read_only_fields = fields

    def get_preview_url(self, template: Template) -> str | None:
        return signed_url(template.preview.name) if template.preview else None

    def get_defaults(self, template: Template) -> dict[str, float]:
        return template.default_values()

    def get_style_prompts(self, template: Template) -> list[str]:
        for node in template.config.get("pipeline", []):
            if node["node_type"] == "prompt_enhancement":
                return node["parameters"].get("style_prompts", [])
        return []


class TemplateDetailSerializer(TemplateSerializer):
    class Meta(TemplateSerializer.Meta):
        fields = (*TemplateSerializer.Meta.fields, "config", "created_at")
        read_only_fields = fields


class TemplateRevisionSerializer(StrictSerializer):
    """Staff edits: every field optional; what is given replaces the current version's value."""

    name = serializers.CharField(required=False, max_length=120)
    description = serializers.CharField(required=False, allow_blank=True)
    sample_prompt = serializers.CharField(required=False, allow_blank=True, max_length=500)
    production_path = serializers.ChoiceField(choices=PATH_CHOICES, required=False)
    credit_cost = serializers.IntegerField(required=False, min_value=0)
    config = serializers.JSONField(required=False)
    overridable = serializers.JSONField(required=False)
    bounds = serializers.JSONField(required=False)
    max_images = serializers.IntegerField(required=False, min_value=1)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError(_("Change at least one field."))
        return attrs


class TemplateListView(generics.ListAPIView):
    """The listed templates (each slug's latest active version), by production path, then name."""

    serializer_class = TemplateSerializer
    filterset_class = TemplateFilter

    def get_queryset(self):
        return selectors.listed_templates()


class TemplateDetailView(APIView):
    @extend_schema(responses=TemplateDetailSerializer)
    def get(self, request, slug: str):
        return Response(TemplateDetailSerializer(_latest_or_404(slug)).data)


class TemplateRevisionView(APIView):
    """Staff only: editing a template saves a new version; jobs already run keep theirs."""

    permission_classes = [permissions.IsAdminUser]

    @extend_schema(request=TemplateRevisionSerializer, responses={201: TemplateDetailSerializer})
    def post(self, request, slug: str):
        serializer = TemplateRevisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        revision = services.revise_template(template=_latest_or_404(slug), **serializer.validated_data)
        return Response(TemplateDetailSerializer(revision).data, status=status.HTTP_201_CREATED)


def _latest_or_404(slug: str) -> Template:
    template = selectors.template_for_jobs(slug)
    if template is None:
        raise Http404(_("No template %(slug)s.") % {"slug": repr(slug)})
    return template


size_preset_schema = inline_serializer(
    "SizePreset",
    {"name": serializers.CharField(), "width": serializers.IntegerField(), "height": serializers.IntegerField()},
    many=True,
)


class SizePresetListView(APIView):
    @extend_schema(responses=size_preset_schema)
    def get(self, request):
        return Response([{"name": name, "width": w, "height": h} for name, (w, h) in SIZE_PRESETS.items()])


path_schema = inline_serializer(
    "ProductionPathInfo",
    {
        "name": serializers.CharField(),
        "label": serializers.CharField(),
        "default_size": serializers.DictField(child=serializers.IntegerField()),
        "style_prompts": serializers.ListField(child=serializers.CharField()),
        "negative_prompt": serializers.CharField(),
        "concurrency": serializers.IntegerField(),
        "queue": serializers.CharField(),
        "templates": serializers.IntegerField(),
    },
    many=True,
)


class PathListView(APIView):
    @extend_schema(responses=path_schema)
    def get(self, request):
        counts: dict[str, int] = {}
        for template in selectors.listed_templates().only("production_path"):
            counts[template.production_path] = counts.get(template.production_path, 0) + 1
        return Response(
            [
                {
                    "name": path.name,
                    "label": path.label,
                    "default_size": {"width": path.default_size[0], "height": path.default_size[1]},
                    "style_prompts": list(path.style_prompts),
                    "negative_prompt": path.negative_prompt,
                    "concurrency": path.concurrency,
                    "queue": path.queue,
                    "templates": counts.get(path.name, 0),
                }
                for path in PATHS.values()
            ]
        )


class PromptPresetSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = PromptPreset
        fields = ("id", "name", "text", "kind", "created_at", "updated_at")
        read_only_fields = ("id", "created_at", "updated_at")


class PromptPresetViewSet(viewsets.ModelViewSet):
    """The user's own saved prompt fragments; another user's preset is not found."""

    serializer_class = PromptPresetSerializer
    filterset_class = PromptPresetFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return PromptPreset.objects.none()
        return selectors.prompt_presets_for(self.request.user)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        preset = services.create_prompt_preset(owner=request.user, **serializer.validated_data)
        return Response(self.get_serializer(preset).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        preset = services.update_prompt_preset(preset=serializer.instance, **serializer.validated_data)
        return Response(self.get_serializer(preset).data)

    def perform_destroy(self, instance: PromptPreset) -> None:
        services.delete_prompt_preset(preset=instance)
