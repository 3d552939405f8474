from django.urls import path

from . import api

app_name = "brands-api"
urlpatterns = [
    path("styles", api.StyleListCreateView.as_view(), name="style-list"),
    path("styles/<int:pk>", api.StyleDetailView.as_view(), name="style-detail"),
    path("brand-kits", api.BrandKitListCreateView.as_view(), name="brand-kit-list"),
    path("brand-kits/<int:pk>", api.BrandKitDetailView.as_view(), name="brand-kit-detail"),
]
