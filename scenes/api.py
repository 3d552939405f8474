"""REST endpoints for stories, chapters, scenes and characters, and their image jobs.

Every object is found through a selector that starts from request.user: another user's story,
chapter, scene or character is a 404, never a 403.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, generics, serializers, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from accounts import idempotency
from brands.api import style_choices_field
from brands.models import BrandKit
from brands.selectors import brand_kits_of
from core.api import ModelSerializer, Pagination, StrictSerializer, StrictSerializerMixin
from gallery.selectors import image_urls, images_for, signed_url
from gallery.uploads import UploadedImageField
from generation.services import MAX_SEED, estimate_seconds
from templates_app.api import TemplateSlugField

from . import selectors, services
from .models import Chapter, Character, Scene, Story, StoryImageRequest

# --- serializers -----------------------------------------------------------------------------


class OwnBrandKitField(serializers.PrimaryKeyRelatedField):
    """One of the requesting user's brand kits; another user's id reads as "does not exist"."""

    def get_queryset(self):
        request = self.context.get("request")
        return brand_kits_of(user=request.user) if request is not None else BrandKit.objects.none()


class StorySerializer(StrictSerializerMixin, serializers.ModelSerializer):
    template = TemplateSlugField(required=False, allow_null=True)
    styles = style_choices_field(
        required=False, help_text='LoRA styles for every image, [{"id", "weight"}], unless the template has its own.'
    )
    brand_kit = OwnBrandKitField(
        required=False, allow_null=True, help_text="One of your brand kits, for every image of the story."
    )

    class Meta:
        model = Story
        fields = (
            "id",
            "title",
            "description",
            "template",
            "production_path",
            "style",
            "styles",
            "brand_kit",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "created_at", "updated_at")


class ChapterSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = Chapter
        fields = ("id", "story", "number", "title", "script", "style", "created_at")
        read_only_fields = ("id", "story", "created_at")
        validators: list = []  # the unique number is checked by the service, reported on `number`


class CharacterSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    reference_image = UploadedImageField(write_only=True, required=False)
    reference_image_url = serializers.SerializerMethodField()

    class Meta:
        model = Character
        fields = (
            "id",
            "story",
            "name",
            "description",
            "seed",
            "reference_image",
            "reference_image_url",
            "reference_strength",
            "created_at",
        )
        read_only_fields = ("id", "story", "seed", "created_at")
        validators: list = []

    def get_reference_image_url(self, character: Character) -> str | None:
        return signed_url(character.reference_image.name) if character.reference_image else None


class StoryCharacterField(serializers.PrimaryKeyRelatedField):
    """A character of the scene's own story; any other id reads as "does not exist"."""

    def get_queryset(self):
        story = self.context.get("story")
        return Character.objects.filter(story=story) if story is not None else Character.objects.none()


class StoryImageSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="uuid")
    index = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    seed = serializers.IntegerField()
    urls = serializers.SerializerMethodField()

    def get_urls(self, image) -> dict[str, str]:
        return image_urls(image)


class SceneSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    characters = StoryCharacterField(many=True, required=False)
    chosen_image = StoryImageSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Scene
        fields = ("id", "chapter", "scene_number", "description", "characters", "chosen_image", "created_at")
        read_only_fields = ("id", "chapter", "chosen_image", "created_at")
        validators: list = []


class ImageRequestSerializer(ModelSerializer):
    """The pending record of a scene or character image job, with where its job stands."""

    job_id = serializers.IntegerField(read_only=True)
    status = serializers.CharField(source="job.status", read_only=True)
    chapter_id = serializers.SerializerMethodField()
    character_id = serializers.IntegerField(read_only=True, allow_null=True)
    seed = serializers.IntegerField(source="job.seed", read_only=True)
    prompt = serializers.CharField(source="job.prompt", read_only=True)
    error_message = serializers.CharField(source="job.last_error", read_only=True)
    retry_count = serializers.IntegerField(source="job.retry_count", read_only=True)
    images = StoryImageSerializer(source="job.images", many=True, read_only=True)

    class Meta:
        model = StoryImageRequest
        fields = (
            "id",
            "job_id",
            "status",
            "image_type",
            "chapter_id",
            "chapter_number",
            "scene_number",
            "character_id",
            "seed",
            "prompt",
            "error_message",
            "retry_count",
            "images",
            "created_at",
        )
        read_only_fields = fields

    def get_chapter_id(self, request: StoryImageRequest) -> int | None:
        return request.scene.chapter_id if request.scene_id else None


class QueuedSerializer(ImageRequestSerializer):
    estimated_seconds = serializers.SerializerMethodField()

    class Meta(ImageRequestSerializer.Meta):
        fields = (*ImageRequestSerializer.Meta.fields, "estimated_seconds")
        read_only_fields = fields

    def get_estimated_seconds(self, request: StoryImageRequest) -> float:
        return estimate_seconds(request.job)


class GenerateSceneSerializer(StrictSerializer):
    seed = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_SEED, help_text="Default: the first character's fixed seed."
    )


class ChooseImageSerializer(StrictSerializer):
    image = serializers.UUIDField(allow_null=True, help_text="An image of one of this scene's jobs; null clears.")


scene_status_schema = inline_serializer(
    "SceneImageStatus",
    {
        "scene_number": serializers.IntegerField(),
        "request_id": serializers.IntegerField(),
        "job_id": serializers.IntegerField(),
        "status": serializers.CharField(),
        "percent": serializers.IntegerField(),
        "image_url": serializers.CharField(allow_null=True),
        "thumbnail_url": serializers.CharField(allow_null=True),
        "error_message": serializers.CharField(),
        "retry_count": serializers.IntegerField(),
    },
)


# --- lookups ---------------------------------------------------------------------------------


def _get(queryset, message: str, **lookup: Any):
    found = queryset.filter(**lookup).first()
    if found is None:
        raise exceptions.NotFound(message)
    return found


def get_story(user, story_id: int) -> Story:
    return _get(selectors.stories_for(user), f"No story {story_id}.", pk=story_id)


def get_chapter(user, chapter_id: int) -> Chapter:
    return _get(selectors.chapters_for(user), f"No chapter {chapter_id}.", pk=chapter_id)


def get_scene(user, chapter_id: int, scene_number: int) -> Scene:
    chapter = get_chapter(user, chapter_id)
    return _get(
        selectors.scenes_for(user),
        f"Chapter {chapter.number} of {chapter.story.title!r} has no scene {scene_number}.",
        chapter=chapter,
        scene_number=scene_number,
    )


def get_character(user, character_id: int) -> Character:
    return _get(selectors.characters_for(user), f"No character {character_id}.", pk=character_id)


# --- stories, chapters, characters, scenes ---------------------------------------------------


class StoryListCreateView(generics.ListCreateAPIView):
    serializer_class = StorySerializer

    def get_queryset(self):
        return selectors.stories_for(self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.create_story(owner=self.request.user, **serializer.validated_data)


class StoryDetailView(generics.RetrieveUpdateDestroyAPIView):
    serializer_class = StorySerializer

    def get_queryset(self):
        return selectors.stories_for(self.request.user)

    def perform_update(self, serializer):
        serializer.instance = services.update_story(story=serializer.instance, **serializer.validated_data)


class ChapterListCreateView(generics.ListCreateAPIView):
    serializer_class = ChapterSerializer

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        get_story(request.user, kwargs["story_id"])  # another user's story: 404 before the body is read

    def get_queryset(self):
        return get_story(self.request.user, self.kwargs["story_id"]).chapters.all()

    def perform_create(self, serializer):
        story = get_story(self.request.user, self.kwargs["story_id"])
        serializer.instance = services.create_chapter(story=story, **serializer.validated_data)


class ChapterDetailView(generics.RetrieveUpdateDestroyAPIView):
    serializer_class = ChapterSerializer

    def get_queryset(self):
        return selectors.chapters_for(self.request.user)

    def perform_update(self, serializer):
        serializer.instance = services.update_chapter(chapter=serializer.instance, **serializer.validated_data)


class CharacterListCreateView(generics.ListCreateAPIView):
    serializer_class = CharacterSerializer

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        get_story(request.user, kwargs["story_id"])  # another user's story: 404 before the body is read

    def get_queryset(self):
        return get_story(self.request.user, self.kwargs["story_id"]).characters.all()

    def perform_create(self, serializer):
        story = get_story(self.request.user, self.kwargs["story_id"])
        data = dict(serializer.validated_data)
        png = data.pop("reference_image", None)
        serializer.instance = services.create_character(story=story, reference_png=png, **data)


class CharacterDetailView(generics.RetrieveUpdateDestroyAPIView):
    serializer_class = CharacterSerializer

    def get_queryset(self):
        return selectors.characters_for(self.request.user)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        png = data.pop("reference_image", None)
        serializer.instance = services.update_character(character=serializer.instance, reference_png=png, **data)

    def perform_destroy(self, instance):
        services.delete_character(character=instance)


class SceneListCreateView(generics.ListCreateAPIView):
    serializer_class = SceneSerializer

    def chapter(self) -> Chapter:
        if not hasattr(self, "_chapter"):
            self._chapter = get_chapter(self.request.user, self.kwargs["chapter_id"])
        return self._chapter

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if getattr(self, "swagger_fake_view", False):  # schema generation: no chapter to look up
            return context
        return {**context, "story": self.chapter().story}

    def get_queryset(self):
        return selectors.scenes_for(self.request.user).filter(chapter=self.chapter())

    def perform_create(self, serializer):
        serializer.instance = services.create_scene(chapter=self.chapter(), **serializer.validated_data)


class SceneDetailView(generics.RetrieveUpdateDestroyAPIView):
    serializer_class = SceneSerializer

    def get_object(self):
        return get_scene(self.request.user, self.kwargs["chapter_id"], self.kwargs["scene_number"])

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if getattr(self, "swagger_fake_view", False):  # schema generation: no chapter to look up
            return context
        return {**context, "story": get_chapter(self.request.user, self.kwargs["chapter_id"]).story}

    def perform_update(self, serializer):
        serializer.instance = services.update_scene(scene=serializer.instance, **serializer.validated_data)


# --- images ----------------------------------------------------------------------------------


def paginated_image_requests(view: APIView, requests) -> Response:
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(requests, view.request, view=view)
    return paginator.get_paginated_response(ImageRequestSerializer(page, many=True).data)


class SceneImagesView(APIView):
    """GET: every image job of the scene, newest first (paginated). POST: queue one more (history is kept)."""

    pagination_class = Pagination

    @extend_schema(responses=ImageRequestSerializer(many=True))
    def get(self, request, chapter_id: int, scene_number: int):
        scene = get_scene(request.user, chapter_id, scene_number)
        return paginated_image_requests(self, selectors.image_requests(scene=scene))

    @extend_schema(
        request=GenerateSceneSerializer, responses={202: QueuedSerializer}, parameters=[idempotency.OPENAPI_PARAMETER]
    )
    @idempotency.idempotent
    def post(self, request, chapter_id: int, scene_number: int):
        scene = get_scene(request.user, chapter_id, scene_number)
        body = GenerateSceneSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        queued = services.generate_scene_image(scene=scene, **body.validated_data)
        return Response(QueuedSerializer(queued).data, status=status.HTTP_202_ACCEPTED)


class SceneStatusView(APIView):
    """Where the scene's latest image job stands, with a signed URL once its image exists."""

    @extend_schema(responses=scene_status_schema)
    def get(self, request, chapter_id: int, scene_number: int):
        scene = get_scene(request.user, chapter_id, scene_number)
        latest = selectors.latest_image_request(scene=scene)
        if latest is None:
            raise exceptions.NotFound(
                _("No image has been requested for scene %(scene_number)s yet.") % {"scene_number": scene_number}
            )
        job = latest.job
        first_image = next(iter(job.images.all()), None)  # live images, by index (selectors.image_requests)
        urls = image_urls(first_image) if first_image else {"url": None, "thumbnail_url": None}
        return Response(
            {
                "scene_number": scene.scene_number,
                "request_id": latest.pk,
                "job_id": job.pk,
                "status": job.status,
                "percent": job.percent,
                "image_url": urls["url"],
                "thumbnail_url": urls["thumbnail_url"],
                "error_message": job.last_error,
                "retry_count": job.retry_count,
            }
        )


class SceneChosenImageView(APIView):
    @extend_schema(request=ChooseImageSerializer, responses=SceneSerializer)
    def post(self, request, chapter_id: int, scene_number: int):
        scene = get_scene(request.user, chapter_id, scene_number)
        body = ChooseImageSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        image = None
        if body.validated_data["image"] is not None:
            image = _get(images_for(request.user), "No such image.", uuid=body.validated_data["image"])
        scene = services.choose_scene_image(scene=scene, image=image)
        return Response(SceneSerializer(scene, context={"story": scene.chapter.story}).data)


chapter_generation_schema = inline_serializer(
    "ChapterGeneration",
    {
        "queued": QueuedSerializer(many=True),
        "not_queued": serializers.ListField(child=serializers.IntegerField()),
        "error": serializers.DictField(allow_null=True),
    },
)


class ChapterImagesView(APIView):
    """Queue one job per scene of the chapter, in scene order, as far as the user's plan allows."""

    @extend_schema(request=None, responses={202: chapter_generation_schema}, parameters=[idempotency.OPENAPI_PARAMETER])
    @idempotency.idempotent
    def post(self, request, chapter_id: int):
        chapter = get_chapter(request.user, chapter_id)
        if not chapter.scenes.exists():
            raise exceptions.ValidationError(
                {"chapter": [_("Chapter %(number)s has no scenes yet.") % {"number": chapter.number}]}
            )
        result = services.generate_chapter_images(chapter=chapter)
        if result.error is not None and not result.queued:
            raise result.error  # nothing queued: the usual error answer (400, 402, 429)
        error = None
        if result.error is not None:
            # The same error body the API would give, inside a 202 that lists what did get queued.
            handled = api_settings.EXCEPTION_HANDLER(result.error, {"view": self, "request": request})
            error = handled.data["error"] if handled is not None else {"message": str(result.error)}
        return Response(
            {
                "queued": QueuedSerializer(result.queued, many=True).data,
                "not_queued": [scene.scene_number for scene in result.not_queued],
                "error": error,
            },
            status=status.HTTP_202_ACCEPTED,
        )


class CharacterImagesView(APIView):
    """GET: the character's image jobs, newest first (paginated). POST: queue one with its seed and description."""

    pagination_class = Pagination

    @extend_schema(responses=ImageRequestSerializer(many=True))
    def get(self, request, pk: int):
        character = get_character(request.user, pk)
        return paginated_image_requests(self, selectors.image_requests(character=character))

    @extend_schema(request=None, responses={202: QueuedSerializer}, parameters=[idempotency.OPENAPI_PARAMETER])
    @idempotency.idempotent
    def post(self, request, pk: int):
        queued = services.generate_character_image(character=get_character(request.user, pk))
        return Response(QueuedSerializer(queued).data, status=status.HTTP_202_ACCEPTED)
