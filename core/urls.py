"""The site's own pages, mounted at the root."""

from django.urls import path

from . import views

app_name = "core"
urlpatterns = [
    path("", views.landing, name="landing"),
]
