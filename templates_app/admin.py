from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gallery.selectors import signed_url

from . import services
from .models import PromptPreset, Template


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    """Saving a change to an existing template adds a new version; the old one stays for its jobs."""

    list_display = ("name", "slug", "version", "production_path", "credit_cost", "is_active", "has_preview")
    list_filter = ("production_path", "is_active")
    search_fields = ("name", "slug", "description")
    fields = (
        "name",
        "slug",
        "version",
        "production_path",
        "description",
        "sample_prompt",
        "preview_image",
        "credit_cost",
        "is_active",
        "config",
        "overridable",
        "bounds",
        "max_images",
    )
    readonly_fields = ("version", "preview_image")
    actions = ("activate", "deactivate", "duplicate_as_new_version")

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "slug") if obj is not None else self.readonly_fields

    @admin.display(boolean=True, description=gettext_lazy("Preview"))
    def has_preview(self, template: Template) -> bool:
        return bool(template.preview)

    @admin.display(description=gettext_lazy("Preview"))
    def preview_image(self, template: Template) -> str:
        if not template.preview:
            return _("None yet: `manage.py seed` draws one.")
        return format_html('<img src="{}" style="max-height: 192px" alt="">', signed_url(template.preview.name))

    def save_model(self, request, obj: Template, form, change: bool) -> None:
        revised = [name for name in form.changed_data if name in services.REVISABLE_FIELDS]
        if not (change and revised):
            super().save_model(request, obj, form, change)
            return
        original = Template.objects.get(pk=obj.pk)
        revision = services.revise_template(template=original, **{name: getattr(obj, name) for name in revised})
        if not obj.is_active:
            Template.objects.filter(pk=revision.pk).update(is_active=False)
            revision.is_active = False
        # The admin goes on (log entry, redirect) with the object it saved: make that the new version.
        obj.pk, obj.version, obj.is_active, obj.preview = (
            revision.pk,
            revision.version,
            revision.is_active,
            revision.preview,
        )
        self.message_user(
            request,
            _("Saved as version %(new)s; version %(old)s is kept for the jobs that used it.")
            % {"new": revision.version, "old": original.version},
            messages.INFO,
        )

    @admin.action(description=gettext_lazy("Activate selected versions (retires the slug's other active version)"))
    def activate(self, request, queryset):
        for template in queryset.order_by("slug", "version"):
            services.activate_template(template=template)
        self.message_user(request, _("Activated; for a slug selected twice, its highest selected version is active."))

    @admin.action(description=gettext_lazy("Deactivate selected templates"))
    def deactivate(self, request, queryset):
        for template in queryset:
            services.deactivate_template(template=template)
        self.message_user(request, _("Deactivated: no new jobs can use them; earlier jobs keep their version."))

    @admin.action(description=gettext_lazy("Duplicate as a new version (becomes the active one)"))
    def duplicate_as_new_version(self, request, queryset):
        for template in queryset.order_by("slug", "version"):
            revision = services.revise_template(template=template)
            self.message_user(
                request,
                _("%(template)s saved as version %(version)s.") % {"template": template, "version": revision.version},
                messages.SUCCESS,
            )


@admin.register(PromptPreset)
class PromptPresetAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "owner", "updated_at")
    list_filter = ("kind",)
    search_fields = ("name", "text", "owner__email")
    raw_id_fields = ("owner",)
