from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares: the API's error shape and plumbing, health, CSP, site-wide template tags."""

    name = "core"
    default_auto_field = "django.db.models.BigAutoField"
