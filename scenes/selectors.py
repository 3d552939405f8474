"""Reads for stories. Every queryset starts from the owner, so another user's rows are simply not found."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from gallery.models import GeneratedImage

from .models import Chapter, Character, Scene, Story, StoryImageRequest


def stories_for(user) -> QuerySet[Story]:
    return Story.objects.filter(owner=user).select_related("template")


def chapters_for(user) -> QuerySet[Chapter]:
    return Chapter.objects.filter(story__owner=user).select_related("story")


def characters_for(user) -> QuerySet[Character]:
    return Character.objects.filter(story__owner=user).select_related("story")


def scenes_for(user) -> QuerySet[Scene]:
    return (
        Scene.objects.filter(chapter__story__owner=user)
        .select_related("chapter__story", "chosen_image")
        .prefetch_related(Prefetch("characters", queryset=Character.objects.order_by("id")))
    )


def image_requests(*, scene: Scene | None = None, character: Character | None = None) -> QuerySet[StoryImageRequest]:
    """Newest first, each with its job and the job's images (those in the trash left out)."""
    live_images = GeneratedImage.objects.filter(deleted_at__isnull=True).order_by("index")
    requests = StoryImageRequest.objects.select_related("job").prefetch_related(
        Prefetch("job__images", queryset=live_images)
    )
    if scene is not None:
        requests = requests.filter(scene=scene)
    if character is not None:
        requests = requests.filter(character=character)
    return requests.order_by("-created_at", "-id")


def latest_image_request(*, scene: Scene) -> StoryImageRequest | None:
    return image_requests(scene=scene).first()
