from django.contrib import admin

from .models import Batch, BatchJob


class BatchJobInline(admin.TabularInline):
    model = BatchJob
    fields = ("position", "job", "prompt", "size_preset")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    """Read-only: a batch is made by its owner's request (its jobs and credits with it), never edited."""

    list_display = ("id", "owner", "production_path", "template", "total_cost", "created_at")
    list_filter = ("production_path",)
    search_fields = ("owner__email", "entries__prompt")
    list_select_related = ("owner", "template")
    readonly_fields = ("owner", "production_path", "template", "parameters", "total_cost", "created_at")
    inlines = [BatchJobInline]

    def has_add_permission(self, request):
        return False
