"""The real models' architectures with random weights: Z-Image-Turbo and SDXL at their published sizes.

The component configurations are the published ones (configs/*.json, copied from the models' Hugging Face
repositories), so a pipeline built here does the same work per step as the trained model: what the GPU
benchmark times without downloading weights, and what the README's VRAM figures are computed from. The
tokenizers are tiny.py's byte-level ones (the real vocabularies need the hub); the embedding tables keep
their real size. On the meta device nothing is allocated: that is how parameter counts are read.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import torch

from ..models_catalog import SDXL, Z_IMAGE_TURBO

CONFIG_DIR = Path(__file__).with_name("configs")
CONFIG_FILES = {Z_IMAGE_TURBO: "z-image-turbo.json", SDXL: "sdxl-base-1.0.json"}
DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


@cache
def architecture(model: str) -> dict[str, Any]:
    """The model's published component configurations (and its serving dtype)."""
    spec: dict[str, Any] = json.loads((CONFIG_DIR / CONFIG_FILES[model]).read_text())
    return spec


def serving_dtype(model: str) -> torch.dtype:
    return DTYPES[architecture(model)["dtype"]]


def _module(config: dict[str, Any]) -> torch.nn.Module:
    import diffusers
    import transformers

    options = {key: value for key, value in config.items() if key not in ("_class_name", "model_type")}
    name = config["_class_name"]
    if hasattr(diffusers, name) and not hasattr(transformers, name):
        return getattr(diffusers, name).from_config(options)
    config_class = {"Qwen3Model": transformers.Qwen3Config}.get(name, transformers.CLIPTextConfig)
    if config_class is transformers.CLIPTextConfig:
        # tiny.py's CLIP tokenizer numbers its start and end tokens 0 and 1; the pooled output reads the end.
        options = {**options, "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1}
    return getattr(transformers, name)(config_class(**options))


MODULE_NAMES = {
    Z_IMAGE_TURBO: ("transformer", "text_encoder", "vae"),
    SDXL: ("unet", "text_encoder", "text_encoder_2", "vae"),
}


def build_modules(model: str, *, device: str | torch.device, dtype: torch.dtype | None = None) -> dict[str, Any]:
    """Each weighted component at its real size, random weights, created on `device` in `dtype` directly (no fp32
    copy first: Z-Image's transformer alone would take 24.6 GB in fp32)."""
    dtype = dtype or serving_dtype(model)
    spec = architecture(model)
    modules: dict[str, Any] = {}
    for name in MODULE_NAMES[model]:
        torch.manual_seed(len(modules))
        previous = torch.get_default_dtype()
        torch.set_default_dtype(dtype)
        try:
            with torch.device(device):
                module = _module(spec[name])
        finally:
            torch.set_default_dtype(previous)
        if str(device) != "meta":
            with torch.no_grad():  # created with torch.empty upstream; fixed so no NaN sneaks in
                for tensor_name in ("x_pad_token", "cap_pad_token"):
                    if isinstance(getattr(module, tensor_name, None), torch.Tensor):
                        getattr(module, tensor_name).normal_()
        modules[name] = module.to(dtype).eval()
    return modules


def build_random_pipeline(model: str, *, device: str = "cuda", dtype: torch.dtype | None = None) -> Any:
    """The model's own diffusers pipeline, real-sized, random weights, on `device`."""
    import diffusers

    from .tiny import build_clip_tokenizer, build_tokenizer

    spec = architecture(model)
    modules = build_modules(model, device=device, dtype=dtype)
    scheduler_config = {key: value for key, value in spec["scheduler"].items() if key != "_class_name"}
    scheduler = getattr(diffusers, spec["scheduler"]["_class_name"]).from_config(scheduler_config)
    if model == Z_IMAGE_TURBO:
        pipeline = diffusers.ZImagePipeline(scheduler=scheduler, tokenizer=build_tokenizer(), **modules)
    else:
        pipeline = diffusers.StableDiffusionXLPipeline(
            scheduler=scheduler, tokenizer=build_clip_tokenizer(), tokenizer_2=build_clip_tokenizer(), **modules
        )
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def module_bytes(module: torch.nn.Module) -> int:
    """Bytes of a module's parameters and buffers (what it occupies on the device it sits on)."""
    tensors = {id(t): t for t in (*module.parameters(), *module.buffers())}
    return sum(t.numel() * t.element_size() for t in tensors.values())


@cache
def component_bytes(model: str) -> dict[str, int]:
    """Each component's bytes at the serving dtype, counted on the meta device from the published configs."""
    return {name: module_bytes(module) for name, module in build_modules(model, device="meta").items()}
