"""The earlier APIs' paths, one module each (doc000, doc002, doc003, doc004); included before the apps' own, so
`/api/v1/jobs` can answer document 002's `?skip=&limit=` list (compat.doc002.jobs)."""

from django.urls import path

from . import doc000, doc002, doc003, doc004

app_name = "compat-api"

scene = "chapters/<int:chapter_id>/images/scenes/<int:scene_number>"

urlpatterns = [
    path("generate", doc002.GenerateView.as_view(), name="generate"),
    path("generate/<int:job_id>/stream", doc000.GenerateStreamView.as_view(), name="generate-stream"),
    path("status/<int:job_id>", doc002.StatusView.as_view(), name="status"),
    path("jobs", doc002.jobs),  # unnamed: generation-api:job-list is this path's name and schema
    path("images/generate", doc003.ImageGenerateView.as_view(), name="image-generate"),
    path("tasks/<int:task_id>", doc003.TaskView.as_view(), name="task"),
    path(scene, doc004.SceneImageView.as_view(), name="scene-image"),
    path(f"{scene}/status", doc004.SceneImageStatusView.as_view(), name="scene-image-status"),
]
