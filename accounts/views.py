"""Website pages for accounts: sign-up and its confirmation link, login/logout (everywhere), password reset, the
account page and its API keys."""

from __future__ import annotations

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django.views.generic import FormView, TemplateView

from . import selectors, services
from .forms import LanguageForm, LoginForm, SignUpForm
from .throttling import SignUpRateThrottle
from .tokens import revoke_sessions_and_tokens


def site_url(request: HttpRequest) -> str:
    """This site's address as the request reached it (a Host in ALLOWED_HOSTS), for links in e-mails."""
    return request.build_absolute_uri("/").rstrip("/")


class SignUpView(FormView):
    """Answers every valid sign-up with the same "check your inbox" page, whether or not the address has an
    account (its owner is told by e-mail instead), and counts sign-ups per client address like the API."""

    template_name = "accounts/signup.html"
    form_class = SignUpForm
    success_url = reverse_lazy("accounts:signup-sent")

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            return redirect("accounts:profile")
        return super().dispatch(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        throttle = SignUpRateThrottle()
        if not throttle.allow_request(request, self):
            form = self.get_form()
            form.add_error(None, _("Too many sign-ups from your address. Try again later."))
            response = self.render_to_response(self.get_context_data(form=form), status=429)
            response["Retry-After"] = str(int(throttle.wait() or 60))
            return response
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        try:
            form.save(site_url=site_url(self.request))
        except ValidationError:
            return self.form_invalid(form)
        return super().form_valid(form)


class SignUpSentView(TemplateView):
    template_name = "accounts/signup_sent.html"


@never_cache
def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    """The link from the confirmation e-mail: confirms the address and grants the plan's credits."""
    try:
        user = services.verify_email(token=token)
    except ValidationError:
        return render(request, "accounts/email_verified.html", {"verified": False}, status=400)
    return render(request, "accounts/email_verified.html", {"verified": True, "verified_user": user})


@login_required
@require_POST
def resend_verification(request: HttpRequest) -> HttpResponse:
    if request.user.is_email_verified:
        messages.info(request, _("Your e-mail address is already confirmed."))
    elif not SignUpRateThrottle().allow_request(request, None):
        messages.error(request, _("Too many e-mails sent to you. Try again later."))
    else:
        services.send_verification_email(user=request.user, site_url=site_url(request))
        messages.success(
            request, _("A new confirmation link is on its way to %(email)s.") % {"email": request.user.email}
        )
    return redirect("accounts:profile")


@login_required
@require_POST
def logout_everywhere(request: HttpRequest) -> HttpResponse:
    """Ends every session of the user (this one included) and every JWT; API keys stay valid."""
    revoke_sessions_and_tokens(user=request.user, reason="website sign-out everywhere")
    auth.logout(request)
    messages.success(request, _("You are signed out on every device, and every API token is revoked."))
    return redirect("accounts:login")


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True
    next_page = reverse_lazy("accounts:profile")


class LogoutView(auth_views.LogoutView):
    next_page = reverse_lazy("accounts:login")


class PasswordResetView(auth_views.PasswordResetView):
    """Says the same whether or not the address has an account, so it cannot be used to find users."""

    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


class ProfileView(LoginRequiredMixin, TemplateView):
    template_name = "accounts/profile.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        return super().get_context_data(
            limits=selectors.limits_for(user),
            entries=selectors.ledger_for(user).select_related("job")[:20],
            api_keys=selectors.api_keys_for(user),
            language_form=LanguageForm(initial={"language": user.language}),
            **kwargs,
        )


@never_cache
@login_required
@require_POST
def api_key_create(request: HttpRequest) -> HttpResponse:
    try:
        key, raw_key = services.create_api_key(user=request.user, name=request.POST.get("name", ""))
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("accounts:profile")
    # Rendered, not redirected: the secret must not be stored anywhere to be shown again.
    return render(request, "accounts/api_key_created.html", {"key": key, "raw_key": raw_key})


@login_required
@require_POST
def api_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(selectors.api_keys_for(request.user), pk=pk)
    services.revoke_api_key(key=key)
    messages.success(
        request, _("The key “%(name)s” is revoked; requests using it are refused from now on.") % {"name": key.name}
    )
    return redirect("accounts:profile")


@login_required
@require_POST
def language_update(request: HttpRequest) -> HttpResponse:
    """The profile's language choice; the page comes back in the new language (or the browser's, for empty)."""
    form = LanguageForm(request.POST)
    if not form.is_valid():
        for message in form.errors["language"]:
            messages.error(request, message)
        return redirect("accounts:profile")
    language = form.cleaned_data["language"]
    services.set_language(user=request.user, language=language)
    translation.activate(language or translation.get_language_from_request(request))  # the message in the new one
    messages.success(request, _("Your language is saved."))
    response = redirect("accounts:profile")
    if language:
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=settings.LANGUAGE_COOKIE_AGE)
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
    return response
