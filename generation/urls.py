"""Website pages for generating, mounted at the site root."""

from django.urls import path

from . import views

app_name = "generation"
urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("generate/", views.generate, name="generate"),
    path("generate/estimate", views.generate_estimate, name="generate-estimate"),
    path("jobs/", views.job_list, name="jobs"),
    path("jobs/<int:pk>/", views.job_detail, name="job"),
    path("jobs/<int:pk>/cancel", views.job_cancel, name="job-cancel"),
    path("jobs/<int:pk>/retry", views.job_retry, name="job-retry"),
    path("gallery/images/<uuid:pk>/vary", views.image_action, {"action": "vary"}, name="image-vary"),
    path("gallery/images/<uuid:pk>/extend", views.image_action, {"action": "extend"}, name="image-extend"),
    path("gallery/images/<uuid:pk>/upscale", views.image_action, {"action": "upscale"}, name="image-upscale"),
]
