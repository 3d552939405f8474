"""Staff see every endpoint and delivery, each delivery with its attempts; secrets are never shown."""

from django.contrib import admin

from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "job", "url", "events", "created_at")
    list_select_related = ("owner",)
    search_fields = ("url", "owner__email")
    exclude = ("secret",)
    raw_id_fields = ("owner", "job")


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("number", "started_at", "status_code", "duration_ms", "error", "next_retry_at")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "event_type", "endpoint", "job", "status", "attempts", "next_attempt_at", "created_at")
    list_filter = ("status", "event_type")
    list_select_related = ("endpoint",)
    search_fields = ("message_id", "endpoint__url")
    raw_id_fields = ("endpoint", "job")
    readonly_fields = ("message_id", "payload", "attempts", "finished_at")
    inlines = (WebhookAttemptInline,)
