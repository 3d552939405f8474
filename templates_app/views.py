"""Website pages for the template gallery: browse by production path, look at one, start generating with it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from generation.engine.models_catalog import DEFAULT_MODEL, MODELS
from generation.engine.paths import PATH_CHOICES

from . import selectors
from .filters import TemplateFilter

PARAMETER_LABELS = {
    "width": _("width"),
    "height": _("height"),
    "steps": _("steps"),
    "guidance": _("guidance"),
    "seed": _("seed"),
    "negative_prompt": _("negative prompt"),
    "num_images": _("number of images"),
}


def style_prompts(template) -> list[str]:
    for node in template.config.get("pipeline", []):
        if node.get("node_type") == "prompt_enhancement":
            return list(node.get("parameters", {}).get("style_prompts", []))
    return []


@login_required
@require_GET
def template_list(request: HttpRequest) -> HttpResponse:
    """The catalogue, narrowed by the templates API's own filters (templates_app.filters); a bad path is ignored."""
    filters = TemplateFilter(request.GET, queryset=selectors.listed_templates())
    templates = filters.qs
    path = filters.form.cleaned_data.get("path") or ""
    return render(
        request,
        "templates_app/list.html",
        {"templates": templates, "path": path, "paths": PATH_CHOICES},
    )


@login_required
@require_GET
def template_detail(request: HttpRequest, slug: str) -> HttpResponse:
    template = selectors.template_for_jobs(slug)
    if template is None:
        raise Http404("No such template.")
    model = MODELS.get(template.config.get("model", DEFAULT_MODEL))
    return render(
        request,
        "templates_app/detail.html",
        {
            "template": template,
            "model": model,
            "defaults": template.default_values(),
            "style_prompts": style_prompts(template),
            "changeable": [PARAMETER_LABELS.get(name, name) for name in template.overridable],
        },
    )
