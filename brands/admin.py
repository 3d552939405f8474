"""Staff install public styles (owner empty) through the same checks as a user's upload, and see every kit."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from . import services
from .models import BrandKit, Style


class StyleAddForm(forms.ModelForm):
    """A new style: the upload is checked and stored by services.style_create (a public style: no owner)."""

    upload = forms.FileField(label=_("LoRA file (.safetensors)"))
    preview_upload = forms.ImageField(label=_("Preview image"), required=False)

    class Meta:
        model = Style
        fields = ("name", "base_model", "trigger_words", "default_weight")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            self.instance = services.style_create(
                owner=None,
                name=data["name"],
                base_model=data["base_model"],
                file=data["upload"],
                trigger_words=data.get("trigger_words") or "",
                default_weight=data["default_weight"],
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                self.add_error("upload" if field == "file" else field if field in self.fields else None, messages)
        return data


class StyleChangeForm(forms.ModelForm):
    preview_upload = forms.ImageField(label=_("New preview image"), required=False)

    class Meta:
        model = Style
        fields = ("name", "trigger_words", "default_weight")


@admin.register(Style)
class StyleAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "base_model", "owner", "default_weight", "file_size", "created_at")
    list_filter = ("base_model", ("owner", admin.EmptyFieldListFilter))
    list_select_related = ("owner",)
    search_fields = ("name", "trigger_words", "sha256", "owner__email")
    readonly_fields = ("owner", "file", "file_size", "sha256", "preview", "created_at", "updated_at")

    def get_form(self, request: HttpRequest, obj: Style | None = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["form"] = StyleChangeForm if obj is not None else StyleAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Style | None = None) -> list[str]:
        if obj is None:
            return ["name", "base_model", "trigger_words", "default_weight", "upload", "preview_upload"]
        return ["name", "trigger_words", "default_weight", "preview_upload", *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Style | None = None) -> tuple[str, ...]:
        return self.readonly_fields if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Style, form: forms.ModelForm, change: bool) -> None:
        """The add form's clean() already stored it; a change goes through style_update's checks."""
        if change:
            services.style_update(
                style=obj,
                name=obj.name,
                trigger_words=obj.trigger_words,
                default_weight=obj.default_weight,
            )
        preview = form.cleaned_data.get("preview_upload")
        if preview:
            services.style_set_preview(style=obj, image=preview)

    def delete_model(self, request: HttpRequest, obj: Style) -> None:
        services.style_delete(style=obj)


@admin.register(BrandKit)
class BrandKitAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "owner", "logo_apply", "created_at")
    list_filter = ("logo_apply",)
    list_select_related = ("owner",)
    search_fields = ("name", "owner__email")
    raw_id_fields = ("owner",)
    readonly_fields = ("owner", "palette", "default_styles", "logo", "created_at", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a kit is its owner's: made on the website or through the API

    def delete_model(self, request: HttpRequest, obj: BrandKit) -> None:
        services.brand_kit_delete(kit=obj)
