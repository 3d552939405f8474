"""Website actions for personal API keys: create one (its secret shown once, on the page that answers) and revoke."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from . import selectors, services


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
