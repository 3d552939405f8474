from django.apps import AppConfig


class CompatConfig(AppConfig):
    """Routes with the shapes of the earlier APIs the source documents describe, over the same services."""

    name = "compat"
    default_auto_field = "django.db.models.BigAutoField"
