from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

app_name = "templates_app-api"

router = SimpleRouter(trailing_slash=False)
router.register("prompt-presets", api.PromptPresetViewSet, basename="prompt-preset")

urlpatterns = [
    path("templates", api.TemplateListView.as_view(), name="template-list"),
    path("templates/<slug:slug>", api.TemplateDetailView.as_view(), name="template-detail"),
    path("templates/<slug:slug>/revisions", api.TemplateRevisionView.as_view(), name="template-revise"),
    path("paths", api.PathListView.as_view(), name="path-list"),
    path("size-presets", api.SizePresetListView.as_view(), name="size-preset-list"),
    *router.urls,
]
