"""Built-in workflow nodes: prompt_enhancement -> [load_image ->] generation or upscale -> save_image."""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Iterator
from typing import Any

from django.utils.translation import gettext as _
from PIL import Image

from . import image_ops
from .job_input import IP_ADAPTER, JobMode
from .workflow import Node, WorkflowConfigError, WorkflowContext, register_node

GENERATION_MODES = (JobMode.TEXT, JobMode.IMAGE, JobMode.INPAINT)


def enhance_prompt(prompt: str, style_prompts: list[str]) -> str:
    """The user's prompt followed by the template's style prompts, comma-separated."""
    parts = [prompt.strip().rstrip(","), *(style.strip() for style in style_prompts)]
    return ", ".join(part for part in parts if part)


@register_node("prompt_enhancement")
class PromptEnhancementNode(Node):
    # avoid_words: a brand kit's words to avoid, joined to whichever negative prompt the job ends up with.
    parameters = {"style_prompts": ((list,), False), "negative_prompt": ((str,), False), "avoid_words": ((str,), False)}

    @classmethod
    def check(cls, params: dict[str, Any], path: str) -> None:
        for index, style in enumerate(params.get("style_prompts", [])):
            if not isinstance(style, str) or not style.strip():
                raise WorkflowConfigError(f"{path}.style_prompts[{index}]", _("Must be a non-empty string."))

    def run(self, context: WorkflowContext) -> None:
        context.prompt = enhance_prompt(context.prompt, self.params.get("style_prompts", []))
        if not context.negative_prompt:
            context.negative_prompt = self.params.get("negative_prompt", "")
        context.negative_prompt = enhance_prompt(context.negative_prompt, [self.params.get("avoid_words", "")])


@register_node("load_image")
class LoadImageNode(Node):
    """Opens the job's source (and mask) through the worker's load_image, at the job's output size.

    Image-to-image and inpaint: the source cover-fitted to the output size (resized and centre-cropped, as a text
    job's snapped size is cropped back), the mask fitted to the source first (image_ops.fit_mask) and then exactly
    as the source. Outpaint: the canvas with the source placed on it and the mask of its new area. Upscale: the
    source as it is (the upscale node enlarges it).
    """

    def run(self, context: WorkflowContext) -> None:
        from PIL import ImageOps

        job = context.job
        if context.load_image is None:
            raise RuntimeError("load_image needs a loader: the worker (generation.runner) provides it.")
        if not job.source_key:
            raise RuntimeError("This workflow starts from an image, and the job has none.")
        source = context.load_image(job.source_key).convert("RGB")
        size = (job.width, job.height)
        if job.mode == JobMode.UPSCALE or job.reference_method == IP_ADAPTER:
            context.source = source  # enlarged by upscale; or whole, as IP-Adapter's image processor squares it
        elif job.mode == JobMode.OUTPAINT:
            context.source, context.mask, _ = image_ops.outpaint_canvas(
                source, job.width, job.height, job.outpaint_anchor
            )
        else:
            mask = image_ops.fit_mask(context.load_image(job.mask_key), source.size) if job.mask_key else None
            if source.size != size:
                source = ImageOps.fit(source, size, method=Image.Resampling.LANCZOS)
                if mask is not None:
                    mask = ImageOps.fit(mask, size, method=Image.Resampling.BILINEAR)
                    mask = mask.point(lambda value: 255 if value >= image_ops.MASK_THRESHOLD else 0)
            context.source, context.mask = source, mask


def _report(context: WorkflowContext, offset: int, total: int, step: int, _: int, latents: Any) -> None:
    context.on_step(offset + step, total, latents)


def request_styles(context: WorkflowContext) -> tuple[Any, ...]:
    """The job's LoRA styles as the engine takes them (diffusion.LoraStyle), each file fetched by the worker."""
    from .diffusion import LoraStyle

    if not context.job.styles:
        return ()
    if context.load_style is None:
        raise RuntimeError("A job with styles needs the worker's load_style (generation.runner).")
    return tuple(
        LoraStyle(
            path=context.load_style(style), sha256=style["sha256"], weight=float(style["weight"]), name=style["name"]
        )
        for style in context.job.styles
    )


@register_node("generation")
class GenerationNode(Node):
    """Draws the job's images one by one, so each can be saved and announced as soon as it exists.

    `mode`: text, image (from the loaded source) or inpaint (the source redrawn inside its mask, the rest pasted
    back exactly); absent, it follows the job's (image_ops.generation_mode: an outpaint job inpaints its canvas).
    """

    parameters = {"model_type": ((str,), False), "negative_prompt": ((str,), False), "mode": ((str,), False)}

    @classmethod
    def check(cls, params: dict[str, Any], path: str) -> None:
        if params.get("model_type", "diffusion") != "diffusion":
            raise WorkflowConfigError(f"{path}.model_type", _("Only 'diffusion' is supported."))
        if params.get("mode", JobMode.TEXT) not in GENERATION_MODES:
            raise WorkflowConfigError(
                f"{path}.mode", _("Must be one of: %(names)s.") % {"names": ", ".join(GENERATION_MODES)}
            )

    def run(self, context: WorkflowContext) -> None:
        if not context.negative_prompt:
            context.negative_prompt = self.params.get("negative_prompt", "")
        context.images = self._draw(context)

    def _draw(self, context: WorkflowContext) -> Iterator[Any]:
        from .diffusion import DiffusionRequest, get_backend

        backend = get_backend()
        context.backend_name = backend.name
        job = context.job
        mode = image_ops.generation_mode(job)
        if mode != JobMode.TEXT and context.source is None:
            raise RuntimeError(f"Generation in {mode} mode needs a load_image node before it.")
        if mode == JobMode.INPAINT and context.mask is None:
            raise RuntimeError("Generation in inpaint mode needs a mask: the job has none.")
        inputs: dict[str, Any] = {}
        if job.reference_method == IP_ADAPTER:
            from .diffusion.ip_adapter import scale_for

            if context.source is None:
                raise RuntimeError("An IP-Adapter reference needs a load_image node before generation.")
            inputs = {"reference": context.source, "reference_scale": scale_for(job.strength)}
        elif mode != JobMode.TEXT:
            inputs = {"mode": mode, "image": context.source, "strength": image_ops.job_strength(job, mode)}
            if mode == JobMode.INPAINT:
                inputs["mask"] = context.mask
        inputs["styles"] = request_styles(context)
        per_image = image_ops.steps_per_image(job)
        total = per_image * job.num_images
        prompts: dict[str, Any] = {"prompt": context.prompt, "negative_prompt": context.negative_prompt}
        context.prompt_truncated = backend.prompt_is_cut(DiffusionRequest.for_image(job, **prompts, index=0))
        for index in range(job.num_images):
            if index in context.done_indexes:  # stored by an earlier, interrupted delivery
                continue
            request = DiffusionRequest.for_image(job, **prompts, index=index, **inputs)
            started = time.perf_counter()
            image = backend.generate(request, functools.partial(_report, context, index * per_image, total))
            if mode == JobMode.INPAINT:
                assert context.source is not None and context.mask is not None
                image = image_ops.paste_back(image, context.source, context.mask)
            context.generation_seconds[index] = time.perf_counter() - started
            yield index, image


@register_node("upscale")
class UpscaleNode(Node):
    """Enlarges the loaded source to exactly upscale_factor x its size (Lanczos), then refines it tile by tile with
    a low-strength image-to-image pass of the job's prompt; overlapping tiles are blended so no seam shows."""

    parameters = {"tile_size": ((int,), False), "tile_overlap": ((int,), False)}

    @classmethod
    def check(cls, params: dict[str, Any], path: str) -> None:
        tile = params.get("tile_size", image_ops.UPSCALE_TILE)
        if not 128 <= tile <= 2048 or tile % 16:
            raise WorkflowConfigError(f"{path}.tile_size", _("Must be a multiple of 16 between 128 and 2048."))
        if not 0 <= params.get("tile_overlap", image_ops.UPSCALE_TILE_OVERLAP) <= tile // 2:
            raise WorkflowConfigError(f"{path}.tile_overlap", _("Must be between 0 and half the tile size."))

    def run(self, context: WorkflowContext) -> None:
        context.images = self._draw(context)

    def _draw(self, context: WorkflowContext) -> Iterator[Any]:
        from .diffusion import DiffusionRequest, get_backend

        job = context.job
        if context.source is None:
            raise RuntimeError("upscale needs a load_image node before it.")
        enlarged = image_ops.enlarge(context.source, job.upscale_factor)
        if enlarged.size != (job.width, job.height):
            raise RuntimeError(
                f"An x{job.upscale_factor} upscale of {context.source.size} is {enlarged.size}, "
                f"not the job's {job.width}x{job.height}."
            )
        backend = get_backend()
        context.backend_name = backend.name
        styles = request_styles(context)
        tile, overlap = image_ops.upscale_tiling(job)
        boxes = image_ops.tile_boxes(job.width, job.height, tile=tile, overlap=overlap)
        per_tile = image_ops.steps_from_strength(job.steps, job.strength, model=job.model)
        per_image = per_tile * len(boxes)
        total = per_image * job.num_images
        prompts: dict[str, Any] = {"prompt": context.prompt, "negative_prompt": context.negative_prompt}
        context.prompt_truncated = backend.prompt_is_cut(DiffusionRequest.for_image(job, **prompts, index=0))
        for index in range(job.num_images):
            if index in context.done_indexes:
                continue
            started = time.perf_counter()
            tiles = []
            for number, box in enumerate(boxes):
                crop = enlarged.crop(box)
                request = DiffusionRequest.for_image(
                    job, **prompts, index=index, mode=JobMode.IMAGE, image=crop, strength=job.strength, styles=styles
                )
                request = dataclasses.replace(request, width=crop.width, height=crop.height)
                offset = index * per_image + number * per_tile
                tiles.append((box, backend.generate(request, functools.partial(_report, context, offset, total))))
            context.generation_seconds[index] = time.perf_counter() - started
            yield index, image_ops.blend_tiles(enlarged.size, tiles)


@register_node("save_image")
class SaveImageNode(Node):
    """Hands each image to the worker's store (PNG with metadata + thumbnail) and announces it."""

    def run(self, context: WorkflowContext) -> None:
        if context.store_image is None:
            raise RuntimeError("save_image needs a store: the worker (generation.runner) provides it.")
        for index, image in context.images:
            stored = context.store_image(context, index, image)
            context.saved.append(stored)
            context.on_image(stored)
