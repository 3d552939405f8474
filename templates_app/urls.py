"""Website pages for templates, mounted at /templates/."""

from django.urls import path

from . import views

app_name = "templates_app"
urlpatterns = [
    path("", views.template_list, name="list"),
    path("<slug:slug>/", views.template_detail, name="detail"),
]

# Mounted at /presets/ (zimage/urls.py): under /templates/ a template's slug could shadow them.
preset_urlpatterns = (
    [
        path("", views.preset_list, name="list"),
        path("<int:pk>/edit", views.preset_edit, name="edit"),
        path("<int:pk>/delete", views.preset_delete, name="delete"),
    ],
    "presets",
)
