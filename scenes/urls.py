"""Website pages for stories, mounted at /stories/."""

from django.urls import path

from . import views

app_name = "scenes"
urlpatterns = [
    path("", views.story_list, name="list"),
    path("<int:pk>/", views.story_detail, name="story"),
    path("<int:pk>/edit", views.story_edit, name="story-edit"),
    path("<int:pk>/delete", views.story_delete, name="story-delete"),
    path("<int:pk>/chapters", views.chapter_create, name="chapter-create"),
    path("<int:pk>/characters", views.character_create, name="character-create"),
    path("characters/<int:pk>/generate", views.character_generate, name="character-generate"),
    path("characters/<int:pk>/edit", views.character_edit, name="character-edit"),
    path("characters/<int:pk>/delete", views.character_delete, name="character-delete"),
    path("chapters/<int:pk>/", views.chapter_detail, name="chapter"),
    path("chapters/<int:pk>/edit", views.chapter_edit, name="chapter-edit"),
    path("chapters/<int:pk>/delete", views.chapter_delete, name="chapter-delete"),
    path("chapters/<int:pk>/scenes", views.scene_create, name="scene-create"),
    path("chapters/<int:pk>/generate", views.chapter_generate, name="chapter-generate"),
    path("scenes/<int:pk>/generate", views.scene_generate, name="scene-generate"),
    path("scenes/<int:pk>/choose", views.scene_choose, name="scene-choose"),
    path("scenes/<int:pk>/edit", views.scene_edit, name="scene-edit"),
    path("scenes/<int:pk>/delete", views.scene_delete, name="scene-delete"),
    path("scenes/<int:pk>/move", views.scene_move, name="scene-move"),
]
