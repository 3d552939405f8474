"""The real models rebuilt from their published configurations (what benchmarks/gpu.py --random-weights times):
assembled into each model's own pipeline with its scheduler, at the serving dtype. Built on the meta device here:
the real sizes need a GPU's memory."""

import pytest
import torch
from diffusers import EulerDiscreteScheduler, FlowMatchEulerDiscreteScheduler, StableDiffusionXLPipeline, ZImagePipeline

from generation.engine.diffusion.random_weights import build_random_pipeline, serving_dtype
from generation.engine.models_catalog import SDXL, Z_IMAGE_TURBO


@pytest.mark.parametrize(
    ("model", "pipeline_class", "scheduler_class", "denoiser", "dtype"),
    [
        (Z_IMAGE_TURBO, ZImagePipeline, FlowMatchEulerDiscreteScheduler, "transformer", torch.bfloat16),
        (SDXL, StableDiffusionXLPipeline, EulerDiscreteScheduler, "unet", torch.float16),
    ],
)
def test_each_model_is_its_own_pipeline_at_its_serving_dtype(model, pipeline_class, scheduler_class, denoiser, dtype):
    pipeline = build_random_pipeline(model, device="meta")
    assert type(pipeline) is pipeline_class and type(pipeline.scheduler) is scheduler_class
    assert serving_dtype(model) == dtype
    assert {p.dtype for p in getattr(pipeline, denoiser).parameters()} == {dtype}
    assert all(p.device.type == "meta" for p in pipeline.vae.parameters())


def test_the_published_scheduler_settings_are_kept():
    assert build_random_pipeline(Z_IMAGE_TURBO, device="meta").scheduler.config.shift == 3.0
    sdxl = build_random_pipeline(SDXL, device="meta").scheduler.config
    assert (sdxl.timestep_spacing, sdxl.steps_offset, sdxl.beta_schedule) == ("leading", 1, "scaled_linear")


def test_the_text_encoders_keep_their_real_widths():
    z_image = build_random_pipeline(Z_IMAGE_TURBO, device="meta")
    assert z_image.text_encoder.config.hidden_size == z_image.transformer.config.cap_feat_dim == 2560
    sdxl = build_random_pipeline(SDXL, device="meta")
    widths = sdxl.text_encoder.config.hidden_size + sdxl.text_encoder_2.config.hidden_size
    assert widths == sdxl.unet.config.cross_attention_dim == 2048
