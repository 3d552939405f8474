from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")  # the admin's heading for the app, in the reader's language
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from . import schema  # noqa: F401  (registers the API key scheme with drf-spectacular)
        from .models import Tier
        from .selectors import clear_tier_cache

        post_save.connect(clear_tier_cache, sender=Tier, dispatch_uid="clear_tier_cache_on_save")
        post_delete.connect(clear_tier_cache, sender=Tier, dispatch_uid="clear_tier_cache_on_delete")
