"""Website pages for generating, mounted at the site root."""

from django.urls import path

from . import pages

app_name = "pages"
urlpatterns = [
    path("", pages.landing, name="landing"),
    path("dashboard/", pages.dashboard, name="dashboard"),
    path("generate/", pages.generate, name="generate"),
    path("jobs/", pages.job_list, name="jobs"),
    path("jobs/<int:pk>/", pages.job_detail, name="job"),
    path("jobs/<int:pk>/cancel", pages.job_cancel, name="job-cancel"),
    path("jobs/<int:pk>/retry", pages.job_retry, name="job-retry"),
]
