"""API endpoints, mounted at /api/v1/."""

from django.urls import path

from . import api

app_name = "accounts-api"
urlpatterns = [
    path("auth/signup", api.SignUpView.as_view(), name="signup"),
    path("auth/token/", api.TokenObtainView.as_view(), name="token"),
    path("auth/token/refresh/", api.TokenRefreshView.as_view(), name="token-refresh"),
    path("auth/logout", api.LogoutView.as_view(), name="logout"),
    path("auth/keys", api.ApiKeyListCreateView.as_view(), name="key-list"),
    path("auth/keys/<int:pk>", api.ApiKeyDetailView.as_view(), name="key-detail"),
    path("me", api.MeView.as_view(), name="me"),
    path("me/ledger", api.LedgerView.as_view(), name="ledger"),
]
