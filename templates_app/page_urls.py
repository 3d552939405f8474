"""Website pages for templates, mounted at /templates/."""

from django.urls import path

from . import pages

app_name = "template_pages"
urlpatterns = [
    path("", pages.template_list, name="list"),
    path("<slug:slug>/", pages.template_detail, name="detail"),
]
