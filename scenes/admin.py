from django.contrib import admin

from .models import Chapter, Character, Scene, Story, StoryImageRequest


class ChapterInline(admin.TabularInline):
    model = Chapter
    fields = ("number", "title", "style")
    extra = 0
    show_change_link = True


class CharacterInline(admin.TabularInline):
    model = Character
    fields = ("name", "description", "seed", "reference_image")
    readonly_fields = ("seed",)
    extra = 0


@admin.register(Story)
class StoryAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "template", "production_path", "created_at")
    list_filter = ("production_path",)
    search_fields = ("title", "owner__email")
    raw_id_fields = ("owner", "template")
    inlines = (ChapterInline, CharacterInline)


class SceneInline(admin.TabularInline):
    model = Scene
    fields = ("scene_number", "description", "chosen_image")
    raw_id_fields = ("chosen_image",)
    extra = 0


@admin.register(Chapter)
class ChapterAdmin(admin.ModelAdmin):
    list_display = ("__str__", "story")
    search_fields = ("title", "story__title")
    raw_id_fields = ("story",)
    inlines = (SceneInline,)


@admin.register(StoryImageRequest)
class StoryImageRequestAdmin(admin.ModelAdmin):
    list_display = ("id", "image_type", "scene", "character", "job", "created_at")
    list_filter = ("image_type",)
    raw_id_fields = ("scene", "character", "job")
    readonly_fields = ("scene", "character", "job", "image_type", "chapter_number", "scene_number", "created_at")
