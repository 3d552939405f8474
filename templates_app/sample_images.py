"""Preview images drawn by the diffusion backend at seed time.

Drawing loads the diffusion stack (torch) through `get_backend()`, so only `manage.py seed` (where torch is
installed) and the worker's `render_missing_previews_task` call it; nothing on the web process's import path does.
"""

from __future__ import annotations

import gc
import logging
import sys

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from gallery.services import encode_png
from generation.engine.diffusion import DiffusionRequest, WeightsUnavailable, get_backend, reset_backend
from generation.engine.nodes import enhance_prompt

from .models import Template

logger = logging.getLogger(__name__)

PREVIEW_LONG_SIDE = 384
PREVIEW_SEED = 20240601
SIDE_MULTIPLE = 16


def preview_size(width: int, height: int) -> tuple[int, int]:
    """The template's aspect ratio with its long side at PREVIEW_LONG_SIDE, in multiples of 16."""
    scale = PREVIEW_LONG_SIDE / max(width, height)
    return tuple(max(SIDE_MULTIPLE, round(side * scale / SIDE_MULTIPLE) * SIDE_MULTIPLE) for side in (width, height))


def preview_request(template: Template) -> DiffusionRequest:
    config = template.config
    enhancement = _node_parameters(config, "prompt_enhancement")
    negative = enhancement.get("negative_prompt") or _node_parameters(config, "generation").get("negative_prompt", "")
    defaults = template.default_values()
    width, height = preview_size(defaults["width"], defaults["height"])
    return DiffusionRequest(
        prompt=enhance_prompt(template.sample_prompt or template.name, enhancement.get("style_prompts", [])),
        negative_prompt=negative,
        model=config["model"],
        scheduler=config["scheduler"],
        steps=int(defaults["steps"]),
        guidance=float(defaults["guidance"]),
        width=width,
        height=height,
        seed=PREVIEW_SEED,
    )


def _node_parameters(config: dict, node_type: str) -> dict:
    return next((node["parameters"] for node in config["pipeline"] if node["node_type"] == node_type), {})


def render_preview(template: Template) -> str:
    """Draw the template's sample prompt through its own settings; store it and return the storage key."""
    request = preview_request(template)
    backend = get_backend()
    image = backend.generate(request, lambda step, total, latents: None)
    metadata = {
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt,
        "seed": request.seed,
        "model": request.model,
        "backend": backend.name,
        "steps": request.steps,
        "guidance": request.guidance,
        "template": f"{template.slug} v{template.version}",
    }
    key = default_storage.save(
        f"templates/previews/{template.slug}-v{template.version}.png", ContentFile(encode_png(image, metadata))
    )
    Template.objects.filter(pk=template.pk).update(preview=key)
    template.preview = key
    return key


def render_missing_previews(
    *, refresh: bool = False, keep_backend: bool = False
) -> tuple[list[Template], list[tuple[Template, str]]]:
    """Previews for the active templates that have none (all of them with `refresh`).

    Returns (rendered, skipped with the reason): a model whose weights are not on this machine is
    skipped, not fatal, so seeding still completes. A worker keeps its warm backend (`keep_backend`).
    """
    templates = Template.objects.listed().order_by("production_path", "slug")
    if not refresh:
        templates = templates.filter(preview="")
    rendered, skipped = [], []
    try:
        for template in templates:
            try:
                render_preview(template)
            except WeightsUnavailable as error:
                logger.warning("preview skipped", extra={"template": template.slug, "error": str(error)})
                skipped.append((template, str(error)))
            else:
                rendered.append(template)
    finally:
        if (rendered or skipped) and not keep_backend:
            release_backend()
    return rendered, skipped


def release_backend() -> None:
    """`make run` seeds in the launcher, which then lives on beside the worker: hand the GPU memory back."""
    reset_backend()
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
