from django.urls import path

from . import api

app_name = "batches-api"
urlpatterns = [
    path("batches", api.BatchListCreateView.as_view(), name="batch-list"),
    path("batches/<int:pk>", api.BatchDetailView.as_view(), name="batch-detail"),
    path("batches/<int:pk>/cancel", api.BatchCancelView.as_view(), name="batch-cancel"),
    path("batches/<int:pk>/download", api.BatchDownloadView.as_view(), name="batch-download"),
]
