from django.urls import path

from . import api, sse

app_name = "generation-api"
urlpatterns = [
    path("jobs", api.JobListCreateView.as_view(), name="job-list"),
    path("jobs/<int:pk>", api.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<int:pk>/cancel", api.JobCancelView.as_view(), name="job-cancel"),
    path("jobs/<int:pk>/retry", api.JobRetryView.as_view(), name="job-retry"),
    # Server-Sent Events, held open by daphne (deploy/nginx.conf routes these two paths there).
    path("jobs/<int:pk>/events", sse.JobEventsView.as_view(), name="job-events"),
    path("events", sse.AccountEventsView.as_view(), name="events"),
    path("images/<uuid:pk>/variations", api.ImageVariationsView.as_view(), name="image-variations"),
    path("images/<uuid:pk>/extend", api.ImageExtendView.as_view(), name="image-extend"),
    path("images/<uuid:pk>/upscale", api.ImageUpscaleView.as_view(), name="image-upscale"),
]
