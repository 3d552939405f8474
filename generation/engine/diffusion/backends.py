"""Diffusers pipelines behind the `generate(request, on_step)` interface. Worker processes only."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from django.conf import settings
from PIL import Image, ImageOps

from ..image_ops import pipeline_strength, steps_from_strength
from ..models_catalog import MODELS, SDXL, Z_IMAGE_TURBO, get_model
from . import DiffusionRequest, StepCallback, WeightsUnavailable, ip_adapter
from .fastpaths import prepare_pipeline
from .lora import StyleAdapters, StyleUnavailable
from .pool import REAL_COMPONENT_BYTES, ModelPool, budget_from_settings

logger = logging.getLogger(__name__)

SCHEDULER_CLASSES = {
    "FlowMatchEulerDiscrete": "FlowMatchEulerDiscreteScheduler",
    "EulerDiscrete": "EulerDiscreteScheduler",
    "EulerAncestralDiscrete": "EulerAncestralDiscreteScheduler",
    "DPMSolverMultistep": "DPMSolverMultistepScheduler",
    "DDIM": "DDIMScheduler",
    "UniPCMultistep": "UniPCMultistepScheduler",
}


# The pipelines derived from each model's text-to-image one (DiffusionPipeline.from_pipe: the same modules,
# no second copy of the weights), by request mode.
DERIVED_PIPELINES = {
    Z_IMAGE_TURBO: {"image": "ZImageImg2ImgPipeline", "inpaint": "ZImageInpaintPipeline"},
    SDXL: {"image": "StableDiffusionXLImg2ImgPipeline", "inpaint": "StableDiffusionXLInpaintPipeline"},
}


def weights_source(model: str) -> str:
    """A local folder holding the model (DIFFUSION_WEIGHTS_DIR/<name>), else the hub id for the HF cache."""
    if settings.DIFFUSION_WEIGHTS_DIR:
        folder = Path(settings.DIFFUSION_WEIGHTS_DIR) / model.split("/")[-1]
        if (folder / "model_index.json").exists():
            return str(folder)
    return model


def weights_available(model: str) -> bool:
    source = weights_source(model)
    if os.path.isdir(source):
        return True
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(model, "model_index.json"), str)


def load_pipeline(model: str, device: str) -> Any:
    """Load a real model from local files only: weights are never fetched at run time."""
    import diffusers

    spec = get_model(model)
    cls = {Z_IMAGE_TURBO: diffusers.ZImagePipeline, SDXL: diffusers.StableDiffusionXLPipeline}[model]
    cuda = device.startswith("cuda")
    dtype = (torch.bfloat16 if model == Z_IMAGE_TURBO else torch.float16) if cuda else torch.float32
    source = weights_source(model)
    try:
        pipeline = cls.from_pretrained(source, dtype=dtype, local_files_only=True, use_safetensors=True)
    except (OSError, ValueError) as error:
        raise WeightsUnavailable(
            f"Weights for {spec.label} ({model}) are not on this machine. Put the model folder at "
            f"DIFFUSION_WEIGHTS_DIR/{model.split('/')[-1]} or pre-download it into the Hugging Face cache "
            f"(`hf download {model}`) on a machine with network access. ({error})"
        ) from error
    pipeline.set_progress_bar_config(disable=True)
    return pipeline  # the model pool places it: on the device, or CPU offload


def fit_to_size(image: Image.Image, width: int, height: int) -> Image.Image:
    """Resize and centre-crop to the exact size asked (the model rendered at its snapped size)."""
    if image.size == (width, height):
        return image
    return ImageOps.fit(image, (width, height), method=Image.Resampling.LANCZOS)


def _is_z_image(pipeline: Any) -> bool:
    """Z-Image reads a prompt inside its chat template and guides at any guidance above 0; SDXL differs in both."""
    import diffusers

    return isinstance(pipeline, diffusers.ZImagePipeline)


class DiffusersBackend:
    """Pipelines loaded once per worker process and kept warm in a model pool (pool.py) within the memory budget."""

    def __init__(
        self,
        name: str,
        device: str,
        factory: Callable[[str, str], Any] = load_pipeline,
        preload: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.device = device
        self._factory = factory
        # Each entry: a model's text-to-image pipeline and its derived img2img / inpaint ones (`variants`,
        # sharing its modules); releasing the model drops them together, so nothing keeps its weights alive.
        self.pool = ModelPool(
            load=lambda model: factory(model, device),
            device=device,
            budget_bytes=budget_from_settings(device),
            offload=settings.DIFFUSION_MODEL_CPU_OFFLOAD,
            known_sizes=None if name == "tiny" else REAL_COMPONENT_BYTES,
            prepare=prepare_pipeline,
            on_release=self._forget_model_state,
        )
        self.styles = StyleAdapters(
            max_adapters=settings.STYLE_CACHE_MAX_ADAPTERS,
            max_bytes=int(settings.STYLE_CACHE_MAX_MB * 2**20),
            kind="tiny" if name == "tiny" else "real",
        )
        self._conditioning_key: tuple[Any, ...] | None = None
        self._conditioning_inputs: dict[str, Any] = {}
        for model in preload:
            self._pipeline(model)

    def _pipeline(self, model: str) -> Any:
        return self.pool.get(model).pipeline

    def _pipeline_for(self, model: str, mode: str) -> Any:
        """The model's pipeline for a request mode: text-to-image itself, or one derived from it once and kept."""
        base = self._pipeline(model)
        if mode == "text":
            return base
        derived = self.pool.get(model).variants
        if mode not in derived:
            import diffusers

            cls = getattr(diffusers, DERIVED_PIPELINES[model][mode])
            # from_pipe hands over the base's scheduler object; a swap later replaces it on the one in use only.
            pipeline = cls.from_pipe(base)
            pipeline.set_progress_bar_config(disable=True)
            derived[mode] = pipeline
        return derived[mode]

    def _with_ip_adapter(self, request: DiffusionRequest) -> dict[str, Any]:
        """The model's IP-Adapter on at the request's scale for a request with a reference (loaded on the first,
        kept with the model in the pool), off for any other: the pipeline inputs it adds."""
        entry = self.pool.get(request.model)
        if request.reference is None:
            if entry.ip_adapter is not None:
                entry.ip_adapter.disable()
            return {}
        if request.mode != "text":
            raise ValueError("An IP-Adapter reference conditions a text request only.")
        if request.model not in ip_adapter.SUPPORTED_MODELS:
            raise ValueError(f"{MODELS[request.model].label} has no IP-Adapter.")
        if entry.ip_adapter is None:
            try:
                entry.ip_adapter = self.pool.grow(request.model, ip_adapter.load)
            except WeightsUnavailable:
                self.forget_model(request.model)  # a load that failed half-way may have changed the pipeline
                raise
        entry.ip_adapter.enable(request.reference_scale)
        return {"ip_adapter_image": request.reference.convert("RGB")}

    def forget_model(self, model: str) -> None:
        """Drop a model's pipelines, the derived ones with it, so its weights can be freed."""
        self.pool.release(model)

    def _with_styles(self, request: DiffusionRequest) -> None:
        """The request's LoRA styles on at their weights, every other cached one off (lora.StyleAdapters)."""
        pipeline = self._pipeline(request.model)
        try:
            self.styles.apply(
                pipeline, request.model, request.styles, grow=lambda load: self.pool.grow(request.model, load)
            )
        except StyleUnavailable as error:
            if not error.intact:
                self.forget_model(request.model)  # a load that failed half-way may have changed the pipeline
            raise

    def _forget_model_state(self, model: str) -> None:
        """The kept prompt embeddings sit on the device too, and the adapters live in the pipeline: they go with
        their model."""
        self.styles.forget_model(model)
        if self._conditioning_key and self._conditioning_key[0] == model:
            self._conditioning_key, self._conditioning_inputs = None, {}

    def _with_scheduler(self, pipeline: Any, scheduler: str) -> Any:
        import diffusers

        wanted = SCHEDULER_CLASSES.get(scheduler)
        if wanted and type(pipeline.scheduler).__name__ != wanted:
            pipeline.scheduler = getattr(diffusers, wanted).from_config(pipeline.scheduler.config)
        return pipeline

    def prompt_is_cut(self, request: DiffusionRequest) -> bool:
        """Counted as the pipeline tokenizes: Z-Image reads the prompt inside its chat template."""
        pipeline = self._pipeline(request.model)
        prompt = request.prompt
        if _is_z_image(pipeline):
            messages = [{"role": "user", "content": prompt}]
            prompt = pipeline.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True, enable_thinking=True
            )
        return len(pipeline.tokenizer(prompt).input_ids) > MODELS[request.model].max_prompt_tokens

    def _conditioning(self, pipeline: Any, request: DiffusionRequest) -> dict[str, Any]:
        """The prompt's (and negative prompt's) embeddings as pipeline inputs, computed once for a job's images.

        Every image of a job has the same prompts, so the text encoders run for its first image only: the last
        embeddings are kept, keyed by what they depend on.
        """
        z_image = _is_z_image(pipeline)
        # Classifier-free guidance (and so a negative embedding) as each pipeline decides it.
        guided = request.guidance > 0 if z_image else request.guidance > 1
        # A style may adapt SDXL's text encoders: the embeddings depend on the styles and weights too.
        styles = tuple((style.sha256, style.weight) for style in request.styles)
        key = (request.model, request.prompt, request.negative_prompt, guided, styles)
        if self._conditioning_key != key:
            negative = request.negative_prompt or None
            device = pipeline._execution_device
            with torch.inference_mode():
                if z_image:
                    positive, negatives = pipeline.encode_prompt(
                        prompt=request.prompt,
                        device=device,
                        do_classifier_free_guidance=guided,
                        negative_prompt=negative,
                        max_sequence_length=MODELS[request.model].max_prompt_tokens,
                    )
                    embeddings = {"prompt_embeds": positive, "negative_prompt_embeds": negatives}
                else:
                    positive, negatives, pooled, negative_pooled = pipeline.encode_prompt(
                        prompt=request.prompt,
                        device=device,
                        num_images_per_prompt=1,
                        do_classifier_free_guidance=guided,
                        negative_prompt=negative,
                    )
                    embeddings = {
                        "prompt_embeds": positive,
                        "negative_prompt_embeds": negatives,
                        "pooled_prompt_embeds": pooled,
                        "negative_pooled_prompt_embeds": negative_pooled,
                    }
            self._conditioning_key, self._conditioning_inputs = key, embeddings
        # Z-Image takes lists of tensors: hand each call its own list, never the kept one.
        return {
            name: list(value) if isinstance(value, list) else value for name, value in self._conditioning_inputs.items()
        }

    def generate(self, request: DiffusionRequest, on_step: StepCallback) -> Image.Image:
        spec = MODELS[request.model]
        pipeline = self._pipeline_for(request.model, request.mode)
        pipeline = self._with_scheduler(pipeline, request.scheduler)
        self._with_styles(request)
        conditioning = self._conditioning(self._pipeline(request.model), request)
        generator = torch.Generator(device="cpu").manual_seed(request.seed)
        width, height = spec.snap(request.width), spec.snap(request.height)
        steps, inputs = request.steps, self._image_inputs(request, width, height)
        inputs.update(self._with_ip_adapter(request))
        if request.mode != "text":
            steps = steps_from_strength(request.steps, request.strength, model=request.model)

        def callback(pipe: Any, index: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            on_step(index + 1, steps, tensors.get("latents"))
            return tensors

        with torch.inference_mode():
            output = pipeline(
                **conditioning,
                **inputs,
                width=width,
                height=height,
                num_inference_steps=request.steps,
                guidance_scale=request.guidance,
                num_images_per_prompt=1,
                generator=generator,
                callback_on_step_end=callback,
                callback_on_step_end_tensor_inputs=["latents"],
            )
        image: Image.Image = output.images[0]
        if request.mode == "text":
            return fit_to_size(image, request.width, request.height)
        # Stretched to the snapped size and back, never cropped: the output lines up with the source pixel for pixel.
        return image if image.size == (request.width, request.height) else image.resize((request.width, request.height))

    @staticmethod
    def _image_inputs(request: DiffusionRequest, width: int, height: int) -> dict[str, Any]:
        """The source (and mask) as the derived pipeline takes them, at the size the model renders."""
        if request.mode == "text":
            return {}
        if request.image is None:
            raise ValueError(f"A {request.mode} request needs its image.")
        inputs: dict[str, Any] = {
            "image": request.image.convert("RGB").resize((width, height), Image.Resampling.LANCZOS),
            "strength": pipeline_strength(request.steps, request.strength, model=request.model),
        }
        if request.mode == "inpaint":
            if request.mask is None:
                raise ValueError("An inpaint request needs its mask.")
            inputs["mask_image"] = request.mask.convert("L").resize((width, height), Image.Resampling.NEAREST)
        return inputs


def tiny_factory(model: str, device: str) -> Any:
    """Each model's own pipeline class with tiny random-weight parts; images record backend "tiny"."""
    from .tiny import build_tiny_sdxl, build_tiny_z_image

    builders = {Z_IMAGE_TURBO: build_tiny_z_image, SDXL: build_tiny_sdxl}
    return builders[model]().to(device)


class TinyBackend(DiffusersBackend):
    """Z-Image is built at start, as a worker preloads its default model; SDXL on its first job."""

    def __init__(self) -> None:
        super().__init__("tiny", "cpu", factory=tiny_factory, preload=(Z_IMAGE_TURBO,))


def build_backend(choice: str | None = None) -> DiffusersBackend:
    """`tiny`, `diffusers` (real weights or a clear error), or `auto` (real when CUDA and weights exist)."""
    choice = choice or settings.DIFFUSION_BACKEND
    # Measured: beside web, database and Redis on a small CPU box, torch's OpenMP pool spins against them
    # (256 px tiny image: 0.19 s with 1 thread, 0.2-1.0 s with 2 under load). GPU workers barely use it.
    torch.set_num_threads(settings.TORCH_CPU_THREADS)
    if choice == "tiny":
        return TinyBackend()
    cuda = torch.cuda.is_available()
    if choice == "diffusers":
        return DiffusersBackend("diffusers", "cuda" if cuda else "cpu", preload=(Z_IMAGE_TURBO,))
    if choice != "auto":
        raise ValueError(f"DIFFUSION_BACKEND must be auto, tiny or diffusers, not {choice!r}.")
    if cuda and weights_available(Z_IMAGE_TURBO):
        return DiffusersBackend("diffusers", "cuda", preload=(Z_IMAGE_TURBO,))
    logger.warning(
        "Running the tiny random-weight pipeline: images are noise, not the real model",
        extra={"cuda": cuda, "model": Z_IMAGE_TURBO},
    )
    return TinyBackend()
