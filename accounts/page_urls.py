"""Website actions on API keys, mounted at /accounts/keys/."""

from django.urls import path

from . import pages

app_name = "account_pages"
urlpatterns = [
    path("new", pages.api_key_create, name="key-create"),
    path("<int:pk>/revoke", pages.api_key_revoke, name="key-revoke"),
]
