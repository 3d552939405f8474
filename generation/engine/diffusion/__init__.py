"""The narrow interface to diffusion: `get_backend().generate(request, on_step) -> Image` (one image a call).

This module is plain data and never imports torch; `get_backend()` imports the heavy code on
first use, which happens only inside worker processes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from PIL.Image import Image

    from ..job_input import JobInput

# (step done, steps in total, current latents or None). Raise to abort the run.
StepCallback = Callable[[int, int, Any], None]


@dataclass(frozen=True)
class LoraStyle:
    """A LoRA style as the engine applies it: its file on this machine (fetched and hash-checked by the worker)."""

    path: str
    sha256: str
    weight: float
    name: str


@dataclass(frozen=True)
class DiffusionRequest:
    prompt: str
    negative_prompt: str
    model: str
    scheduler: str
    steps: int
    guidance: float
    width: int
    height: int
    seed: int
    # text: from noise; image: from `image`, `strength` of the way back to noise; inpaint: `image` redrawn where
    # `mask` is white (the caller pastes the rest back). The image and mask come at the request's size.
    mode: str = "text"
    image: Image | None = None
    mask: Image | None = None
    strength: float = 1.0
    # A text request conditioned on `reference` through SDXL's IP-Adapter at `reference_scale` (ip_adapter.py).
    reference: Image | None = None
    reference_scale: float = 0.0
    # LoRA styles at their weights, in the order they apply (lora.StyleAdapters); none draws the base model.
    styles: tuple[LoraStyle, ...] = ()

    @classmethod
    def for_image(
        cls,
        job: JobInput,
        *,
        prompt: str,
        negative_prompt: str,
        index: int,
        mode: str = "text",
        image: Image | None = None,
        mask: Image | None = None,
        strength: float = 1.0,
        reference: Image | None = None,
        reference_scale: float = 0.0,
        styles: tuple[LoraStyle, ...] = (),
    ) -> DiffusionRequest:
        """The request for the job's `index`-th image: the prompts as the workflow shaped them, seed + index."""
        return cls(
            prompt=prompt,
            negative_prompt=negative_prompt,
            model=job.model,
            scheduler=job.scheduler,
            steps=job.steps,
            guidance=job.guidance,
            width=job.width,
            height=job.height,
            seed=job.seed + index,
            mode=mode,
            image=image,
            mask=mask,
            strength=strength,
            reference=reference,
            reference_scale=reference_scale,
            styles=styles,
        )


class DiffusionBackend(Protocol):
    name: str

    def generate(self, request: DiffusionRequest, on_step: StepCallback) -> Image: ...

    def prompt_is_cut(self, request: DiffusionRequest) -> bool:
        """Whether the model reads only the start of the prompt (it has more tokens than the model takes)."""
        ...


class WeightsUnavailable(RuntimeError):
    """The real model's weights are not on this machine."""


_backend: DiffusionBackend | None = None


def get_backend() -> DiffusionBackend:
    """The process-wide backend, built once (in `worker_process_init`) and kept warm."""
    global _backend
    if _backend is None:
        from .backends import build_backend

        _backend = build_backend()
    return _backend


def reset_backend() -> None:
    global _backend
    _backend = None
