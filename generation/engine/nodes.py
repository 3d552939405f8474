"""Built-in workflow nodes: prompt_enhancement -> generation -> save_image."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from typing import Any

from .workflow import Node, WorkflowConfigError, WorkflowContext, register_node


def enhance_prompt(prompt: str, style_prompts: list[str]) -> str:
    """The user's prompt followed by the template's style prompts, comma-separated."""
    parts = [prompt.strip().rstrip(","), *(style.strip() for style in style_prompts)]
    return ", ".join(part for part in parts if part)


@register_node("prompt_enhancement")
class PromptEnhancementNode(Node):
    parameters = {"style_prompts": ((list,), False), "negative_prompt": ((str,), False)}

    @classmethod
    def check(cls, params: dict[str, Any], path: str) -> None:
        for index, style in enumerate(params.get("style_prompts", [])):
            if not isinstance(style, str) or not style.strip():
                raise WorkflowConfigError(f"{path}.style_prompts[{index}]", "Must be a non-empty string.")

    def run(self, context: WorkflowContext) -> None:
        context.prompt = enhance_prompt(context.prompt, self.params.get("style_prompts", []))
        if not context.negative_prompt:
            context.negative_prompt = self.params.get("negative_prompt", "")


@register_node("generation")
class GenerationNode(Node):
    """Draws the job's images one by one, so each can be saved and announced as soon as it exists."""

    parameters = {"model_type": ((str,), False), "negative_prompt": ((str,), False)}

    @classmethod
    def check(cls, params: dict[str, Any], path: str) -> None:
        if params.get("model_type", "diffusion") != "diffusion":
            raise WorkflowConfigError(f"{path}.model_type", "Only 'diffusion' is supported.")

    def run(self, context: WorkflowContext) -> None:
        if not context.negative_prompt:
            context.negative_prompt = self.params.get("negative_prompt", "")
        context.images = self._draw(context)

    def _draw(self, context: WorkflowContext) -> Iterator[Any]:
        from .diffusion import DiffusionRequest, get_backend

        backend = get_backend()
        context.backend_name = backend.name
        job = context.job
        total = job.steps * job.num_images
        first = DiffusionRequest.for_image(job, prompt=context.prompt, negative_prompt=context.negative_prompt, index=0)
        context.prompt_truncated = backend.prompt_is_cut(first)
        for index in range(job.num_images):
            if index in context.done_indexes:  # stored by an earlier, interrupted delivery
                continue
            request = DiffusionRequest.for_image(
                job, prompt=context.prompt, negative_prompt=context.negative_prompt, index=index
            )
            started = time.perf_counter()
            image = backend.generate(request, functools.partial(self._report, context, index * job.steps, total))
            context.generation_seconds[index] = time.perf_counter() - started
            yield index, image

    @staticmethod
    def _report(context: WorkflowContext, offset: int, total: int, step: int, _: int, latents: Any) -> None:
        context.on_step(offset + step, total, latents)


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
