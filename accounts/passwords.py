"""A password validator Django lacks: whitespace only. Listed in AUTH_PASSWORD_VALIDATORS, so it applies to
every path that sets a password (sign-up on the website and the API, reset, the admin, `changepassword`)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class NotOnlySpacesValidator:
    def validate(self, password: str, user: object = None) -> None:
        if not password.strip():
            raise ValidationError(_("Your password cannot be only spaces."), code="password_only_whitespace")

    def get_help_text(self) -> str:
        return _("Your password cannot be only spaces.")
