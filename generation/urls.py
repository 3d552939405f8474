from django.urls import path

from . import api

app_name = "generation"
urlpatterns = [
    path("jobs", api.JobListCreateView.as_view(), name="job-list"),
    path("jobs/<int:pk>", api.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<int:pk>/cancel", api.JobCancelView.as_view(), name="job-cancel"),
]
