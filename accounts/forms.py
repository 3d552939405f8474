from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from . import services
from .models import GrantKind, User


class SignUpForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password again"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return cleaned

    def save(self, *, site_url: str) -> User | None:
        """The new user, or None for an address already registered (whose owner is told by e-mail)."""
        try:
            return services.sign_up(
                email=self.cleaned_data["email"], password=self.cleaned_data["password1"], site_url=site_url
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                self.add_error("password1" if field == "password" else field, messages)
            raise


class LanguageForm(forms.Form):
    """The profile's language choice; empty lets the browser's Accept-Language decide."""

    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        choices=[("", _("Your browser's language")), *settings.LANGUAGES],
    )


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("Email"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )


class GrantCreditsForm(forms.Form):
    """Staff grant or refund from the admin; the token makes a double-submitted form grant once."""

    kind = forms.ChoiceField(label=_("Kind"), choices=GrantKind.choices, initial=GrantKind.GRANT)
    amount = forms.IntegerField(label=_("Amount"), min_value=1, max_value=1_000_000)
    reason = forms.CharField(label=_("Reason"), max_length=200)
    token = forms.UUIDField(widget=forms.HiddenInput)
