"""Website pages for the template gallery: browse by production path, look at one, start generating with it."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from generation.engine.models_catalog import DEFAULT_MODEL, MAX_PROMPT_LENGTH, MODELS
from generation.engine.paths import PATH_CHOICES

from . import selectors, services
from .filters import TemplateFilter
from .models import PromptKind, PromptPreset

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
        raise Http404(gettext("No such template."))
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


# --- Prompt presets (mounted at /presets/) ---------------------------------------------------------------------


class PromptPresetForm(forms.Form):
    name = forms.CharField(max_length=80, label=_("Name"))
    kind = forms.ChoiceField(
        choices=[(PromptKind.PROMPT, _("Prompt")), (PromptKind.NEGATIVE, _("Negative prompt"))],
        initial=PromptKind.PROMPT,
        label=_("Goes into"),
    )
    text = forms.CharField(
        max_length=MAX_PROMPT_LENGTH,
        label=_("Text"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Inserted as it is, e.g. “soft window light, 35mm film”."),
    )


def _save_preset(form: PromptPresetForm, write) -> PromptPreset | None:
    if not form.is_valid():
        return None
    try:
        return write(**form.cleaned_data)
    except ValidationError as error:
        for field, texts in error.message_dict.items():
            if field == "name":  # the one refusal the service adds: a name taken in this kind
                texts = [gettext("You already have a preset with this name.")]
            form.add_error(field if field in form.fields else None, texts)
        return None


@login_required
@require_http_methods(["GET", "POST"])
def preset_list(request: HttpRequest) -> HttpResponse:
    form = PromptPresetForm(request.POST or None)
    if request.method == "POST":
        preset = _save_preset(form, lambda **data: services.create_prompt_preset(owner=request.user, **data))
        if preset is not None:
            messages.success(request, gettext("Preset “%(name)s” saved.") % {"name": preset.name})
            return redirect("presets:list")
    presets = selectors.prompt_presets_for(request.user).order_by("kind", "name", "id")
    status = 400 if form.errors else 200
    return render(request, "templates_app/presets.html", {"presets": presets, "form": form}, status=status)


def _preset(request: HttpRequest, pk: int) -> PromptPreset:
    return get_object_or_404(selectors.prompt_presets_for(request.user), pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def preset_edit(request: HttpRequest, pk: int) -> HttpResponse:
    preset = _preset(request, pk)
    form = PromptPresetForm(
        request.POST or None, initial={"name": preset.name, "kind": preset.kind, "text": preset.text}
    )
    if request.method == "POST":
        if _save_preset(form, lambda **data: services.update_prompt_preset(preset=preset, **data)) is not None:
            messages.success(request, gettext("Preset “%(name)s” saved.") % {"name": preset.name})
            return redirect("presets:list")
        preset.refresh_from_db()  # a refused change was set on the row in memory only
    status = 400 if form.errors else 200
    return render(request, "templates_app/preset_edit.html", {"preset": preset, "form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def preset_delete(request: HttpRequest, pk: int) -> HttpResponse:
    preset = _preset(request, pk)
    if request.method == "POST":
        services.delete_prompt_preset(preset=preset)
        messages.success(request, gettext("Preset “%(name)s” deleted.") % {"name": preset.name})
        return redirect("presets:list")
    context = {
        "title": gettext("Delete the preset “%(name)s”?") % {"name": preset.name},
        "consequence": gettext("Prompts you already wrote with it keep their words."),
        "crumbs": [(reverse("presets:list"), gettext("Prompt presets"))],
        "back": reverse("presets:list"),
    }
    return render(request, "pages/confirm_delete.html", context)
