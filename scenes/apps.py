from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScenesConfig(AppConfig):
    name = "scenes"
    verbose_name = _("Stories")  # the admin's heading for the app, in the reader's language
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the reference-image cleanup)
