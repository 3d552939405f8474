from django.urls import path

from . import api

app_name = "scenes-api"

scene = "chapters/<int:chapter_id>/scenes/<int:scene_number>"

urlpatterns = [
    path("stories", api.StoryListCreateView.as_view(), name="story-list"),
    path("stories/<int:pk>", api.StoryDetailView.as_view(), name="story-detail"),
    path("stories/<int:story_id>/chapters", api.ChapterListCreateView.as_view(), name="chapter-list"),
    path("stories/<int:story_id>/characters", api.CharacterListCreateView.as_view(), name="character-list"),
    path("chapters/<int:pk>", api.ChapterDetailView.as_view(), name="chapter-detail"),
    path("chapters/<int:chapter_id>/images", api.ChapterImagesView.as_view(), name="chapter-images"),
    path("chapters/<int:chapter_id>/scenes", api.SceneListCreateView.as_view(), name="scene-list"),
    path(scene, api.SceneDetailView.as_view(), name="scene-detail"),
    path(f"{scene}/images", api.SceneImagesView.as_view(), name="scene-images"),
    path(f"{scene}/status", api.SceneStatusView.as_view(), name="scene-status"),
    path(f"{scene}/chosen-image", api.SceneChosenImageView.as_view(), name="scene-chosen-image"),
    path("characters/<int:pk>", api.CharacterDetailView.as_view(), name="character-detail"),
    path("characters/<int:pk>/images", api.CharacterImagesView.as_view(), name="character-images"),
]
