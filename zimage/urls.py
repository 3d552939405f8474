from django.contrib import admin
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from core import api, csp, health, locale
from generation.ops.metrics import metrics_view
from templates_app.urls import preset_urlpatterns

admin.site.site_header = _("zimage administration")
admin.site.site_title = _("zimage administration")
admin.site.index_title = _("Run the business")

api_v1 = [
    path("", include("compat.api_urls")),  # first: it answers /jobs?skip=&limit= before the jobs list does
    path("", include("generation.api_urls")),
    path("", include("gallery.api_urls")),
    path("", include("templates_app.api_urls")),
    path("", include("scenes.api_urls")),
    path("", include("accounts.api_urls")),
    path("", include("webhooks.api_urls")),
    path("", include("batches.api_urls")),
    path("", include("brands.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("redoc/", csp.allow_inline_styles(SpectacularRedocView.as_view(url_name="schema")), name="redoc"),
    path("health", health.api_health, name="api-health"),
    re_path(r"", api.not_found),  # last: any other /api/v1/ path is a 404 in the API's error shape
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("i18n/setlang/", locale.set_language, name="set_language"),
    path("i18n/js/", JavaScriptCatalog.as_view(domain="djangojs"), name="javascript-catalog"),
    path("api/v1/", include(api_v1)),
    # The website: each app's pages (views.py + urls.py), rendered server-side.
    path("accounts/", include("accounts.urls")),
    path("templates/", include("templates_app.urls")),
    path("presets/", include(preset_urlpatterns)),
    path("stories/", include("scenes.urls")),
    path("", include("gallery.urls")),
    path("", include("brands.urls")),
    path("", include("batches.urls")),
    path("", include("generation.urls")),
    path("", include("core.urls")),
]
