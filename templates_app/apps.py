from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TemplatesAppConfig(AppConfig):
    name = "templates_app"
    verbose_name = _("Templates")  # the admin's heading for the app, in the reader's language
    default_auto_field = "django.db.models.BigAutoField"
