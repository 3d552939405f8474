"""Staff views of the gallery. Deleting an image here removes its stored files too (gallery.signals)."""

from django.contrib import admin

from .models import Folder, GeneratedImage, ShareLink, Tag


@admin.register(GeneratedImage)
class GeneratedImageAdmin(admin.ModelAdmin):
    list_display = ("uuid", "owner", "job", "index", "production_path", "backend", "is_favourite", "deleted_at")
    list_filter = ("production_path", "image_type", "backend", "is_favourite")
    search_fields = ("uuid", "prompt_used", "owner__email")
    raw_id_fields = ("owner", "job", "template", "folder")
    list_select_related = ("owner", "job")
    readonly_fields = ("uuid", "file", "thumbnail", "created_at")
    date_hierarchy = "created_at"


@admin.register(Folder)
class FolderAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "parent", "created_at")
    list_select_related = ("owner", "parent")
    search_fields = ("name", "owner__email")
    raw_id_fields = ("owner", "parent")


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "created_at")
    list_select_related = ("owner",)
    search_fields = ("name", "owner__email")
    raw_id_fields = ("owner",)


@admin.register(ShareLink)
class ShareLinkAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "image", "folder", "created_at", "expires_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), ("expires_at", admin.EmptyFieldListFilter))
    search_fields = ("owner__email", "=token")
    list_select_related = ("owner", "image", "folder")
    raw_id_fields = ("owner", "image", "folder")
    readonly_fields = ("token", "created_at")
