"""Website pages for stories, mounted at /stories/."""

from django.urls import path

from . import pages

app_name = "story_pages"
urlpatterns = [
    path("", pages.story_list, name="list"),
    path("<int:pk>/", pages.story_detail, name="story"),
    path("<int:pk>/chapters", pages.chapter_create, name="chapter-create"),
    path("<int:pk>/characters", pages.character_create, name="character-create"),
    path("characters/<int:pk>/generate", pages.character_generate, name="character-generate"),
    path("chapters/<int:pk>/", pages.chapter_detail, name="chapter"),
    path("chapters/<int:pk>/scenes", pages.scene_create, name="scene-create"),
    path("chapters/<int:pk>/generate", pages.chapter_generate, name="chapter-generate"),
    path("scenes/<int:pk>/generate", pages.scene_generate, name="scene-generate"),
    path("scenes/<int:pk>/choose", pages.scene_choose, name="scene-choose"),
]
