"""Website pages for accounts: sign-up, login/logout, password reset, the account page and its API keys."""

from __future__ import annotations

from django.contrib import auth, messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django.views.generic import FormView, TemplateView

from . import selectors, services
from .forms import LoginForm, SignUpForm


class SignUpView(FormView):
    template_name = "accounts/signup.html"
    form_class = SignUpForm
    success_url = reverse_lazy("accounts:profile")

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            return redirect(self.success_url)
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        try:
            user = form.save()
        except ValidationError:
            return self.form_invalid(form)
        auth.login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        return super().form_valid(form)


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
    messages.success(request, f"The key “{key.name}” is revoked; requests using it are refused from now on.")
    return redirect("accounts:profile")
