"""The website's language: the signed-in user's choice (User.language), else the browser's Accept-Language.

Django's LocaleMiddleware picks from the language cookie and Accept-Language; it runs before authentication, so
UserLanguageMiddleware (after AuthenticationMiddleware) then applies a signed-in user's saved choice over it.
A WebSocket has no middleware of Django's: core.socket_language picks for it the same way.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.views import i18n
from django.views.decorators.http import require_POST

from accounts import services as account_services


class UserLanguageMiddleware:
    """A signed-in user's saved language wins over the cookie and the browser; an empty choice leaves theirs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        language = getattr(user, "language", "") if user is not None and user.is_authenticated else ""
        if language and language != translation.get_language():
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's switcher view (sets the cookie, goes back), which also saves a signed-in user's choice."""
    response = i18n.set_language(request)
    language = request.POST.get(i18n.LANGUAGE_QUERY_PARAMETER, "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        account_services.set_language(user=request.user, language=language)
    return response
