"""The GPU fast paths, each behind a setting (README, "GPU workers"), and the warm-up at worker start.

- `DIFFUSION_ATTENTION_BACKEND`: diffusers' attention dispatcher for the transformer/UNet ("" keeps the default,
  torch's scaled-dot-product attention, which picks flash or memory-efficient kernels itself on CUDA; "flash",
  "_native_flash", "_native_cudnn", "sage" ... force one where installed).
- `DIFFUSION_CHANNELS_LAST_VAE`: the VAE in channels-last memory format (faster convolutions on tensor cores).
- `DIFFUSION_COMPILE`: `torch.compile` of the transformer/UNet: "blocks" compiles the repeated block once and
  reuses it (diffusers' regional compilation, a warm-up of seconds), "full" the whole module, "off" none.
  Compiled code is built on the first call at a shape, so the worker draws one image per loaded model at
  DIFFUSION_WARMUP_SIZE before it takes a job (`warm_up`), not on the first user's job.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import torch
from django.conf import settings

from ..models_catalog import MODELS
from . import DiffusionBackend, DiffusionRequest

logger = logging.getLogger(__name__)

COMPILE_CHOICES = ("off", "blocks", "full")


def denoiser(pipeline: Any) -> torch.nn.Module:
    """The module every step runs: Z-Image's transformer or SDXL's UNet."""
    module = getattr(pipeline, "transformer", None) or getattr(pipeline, "unet", None)
    if module is None:
        raise ValueError(f"{type(pipeline).__name__} has neither a transformer nor a UNet.")
    return module


def prepare_pipeline(pipeline: Any) -> None:
    """Apply the fast-path settings to a freshly loaded pipeline (the pool calls this once per load)."""
    model = denoiser(pipeline)
    attention = settings.DIFFUSION_ATTENTION_BACKEND
    if attention:
        model.set_attention_backend(attention)
    if settings.DIFFUSION_CHANNELS_LAST_VAE:
        pipeline.vae.to(memory_format=torch.channels_last)
    choice = settings.DIFFUSION_COMPILE
    if choice not in COMPILE_CHOICES:
        raise ValueError(f"DIFFUSION_COMPILE must be one of {', '.join(COMPILE_CHOICES)}, not {choice!r}.")
    mode = settings.DIFFUSION_COMPILE_MODE or None
    if choice == "blocks":
        model.compile_repeated_blocks(fullgraph=True, mode=mode)
    elif choice == "full":
        model.compile(mode=mode)
    logger.info(
        "fast paths applied",
        extra={
            "pipeline": type(pipeline).__name__,
            "attention": attention or "default",
            "channels_last_vae": settings.DIFFUSION_CHANNELS_LAST_VAE,
            "compile": choice,
        },
    )


def warm_up_request(model: str, size: int) -> DiffusionRequest:
    """A job's shape at `size`: the model's default steps, scheduler and guidance, a negative prompt."""
    spec = MODELS[model]
    return DiffusionRequest(
        prompt="warm-up: a studio photograph of a red sneaker on a white table",
        negative_prompt="blurry, low quality",
        model=model,
        scheduler=spec.schedulers[0],
        steps=spec.default_steps,
        guidance=spec.default_guidance,
        width=size,
        height=size,
        seed=0,
    )


def warm_up(backend: DiffusionBackend, *, models: list[str], size: int | None = None) -> dict[str, float]:
    """Draw one image per model through the backend, so compilation and autotuning happen now. Seconds each."""
    size = size or settings.DIFFUSION_WARMUP_SIZE
    seconds: dict[str, float] = {}
    for model in models:
        started = time.perf_counter()
        backend.generate(warm_up_request(model, size), lambda *_: None)
        seconds[model] = round(time.perf_counter() - started, 2)
        logger.info("model warmed up", extra={"model": model, "size": size, "seconds": seconds[model]})
    return seconds


def warm_up_wanted() -> bool:
    """Compiled code is built on first use: warm up whenever compilation is on (or DIFFUSION_WARMUP says so)."""
    return bool(settings.DIFFUSION_WARMUP) or settings.DIFFUSION_COMPILE != "off"
