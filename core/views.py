"""The site's landing page: what zimage makes, with sample images from the templates."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from generation.engine.paths import PATH_CHOICES
from templates_app.selectors import listed_templates

LANDING_SAMPLES = 6


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    templates = list(listed_templates())
    samples = [template for template in templates if template.preview][:LANDING_SAMPLES]
    return render(
        request,
        "pages/landing.html",
        {"samples": samples, "template_count": len(templates), "paths": PATH_CHOICES},
    )
