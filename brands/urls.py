"""Website pages for styles and brand kits."""

from django.urls import path

from . import views

app_name = "brands"
urlpatterns = [
    path("styles/", views.style_list, name="styles"),
    path("styles/<int:pk>/delete", views.style_delete, name="style-delete"),
    path("brand-kits/", views.kit_list, name="kits"),
    path("brand-kits/new", views.kit_create, name="kit-create"),
    path("brand-kits/<int:pk>/", views.kit_edit, name="kit-edit"),
    path("brand-kits/<int:pk>/delete", views.kit_delete, name="kit-delete"),
]
