"""The diffusion backends: tiny runs the real ZImagePipeline; real models fail clearly without weights."""

import pytest

from generation.engine.diffusion import WeightsUnavailable
from generation.engine.diffusion.backends import TinyBackend, build_backend, load_pipeline
from generation.engine.models_catalog import SDXL, Z_IMAGE_TURBO

from ..factories import diffusion_request as request


@pytest.fixture(scope="module")
def tiny():
    return TinyBackend()


def test_tiny_runs_each_models_own_pipeline_class(tiny):
    from diffusers import StableDiffusionXLPipeline, ZImagePipeline

    assert isinstance(tiny._pipeline(Z_IMAGE_TURBO), ZImagePipeline)
    assert isinstance(tiny._pipeline(SDXL), StableDiffusionXLPipeline)


def sdxl(**fields):
    """The 3D-render template's settings (SDXL, DPM-Solver, guidance 9), small and short."""
    values = dict(
        model=SDXL,
        scheduler="DPMSolverMultistep",
        guidance=9.0,
        negative_prompt="2d, flat, painting, sketch, low quality, pixelated",
        steps=3,
        width=256,
        height=256,
    )
    return request(**(values | fields))


def test_sdxl_draws_with_the_templates_scheduler_negative_prompt_and_guidance(tiny):
    latents = []
    image = tiny.generate(sdxl(), lambda step, total, tensor: latents.append(tuple(tensor.shape)))
    assert image.size == (256, 256)
    assert type(tiny._pipeline(SDXL).scheduler).__name__ == "DPMSolverMultistepScheduler"
    assert latents == [(1, 4, 32, 32)] * 3  # SDXL's 4-channel latents at 1/8 of the size
    assert tiny.generate(sdxl(scheduler="EulerDiscrete"), lambda *_: None).size == (256, 256)
    assert type(tiny._pipeline(SDXL).scheduler).__name__ == "EulerDiscreteScheduler"


def test_sdxl_images_follow_the_seed_the_negative_prompt_and_the_guidance(tiny):
    def pixels(**fields):
        return tiny.generate(sdxl(**fields), lambda *_: None).tobytes()

    first = pixels()
    assert pixels() == first
    assert pixels(seed=6) != first
    assert pixels(negative_prompt="") != first
    assert pixels(guidance=1.0) != first  # no classifier-free guidance: the negative prompt plays no part


def test_an_sdxl_prompt_past_clips_77_tokens_is_flagged(tiny):
    assert tiny.prompt_is_cut(sdxl(prompt="a teapot " * 10))
    assert not tiny.prompt_is_cut(sdxl(prompt="a teapot"))


def test_every_denoising_step_is_reported(tiny):
    steps = []
    tiny.generate(request(steps=4), lambda step, total, latents: steps.append((step, total, tuple(latents.shape))))
    assert [(step, total) for step, total, _ in steps] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert steps[0][2] == (1, 16, 32, 32)  # 256 px / 8 = 32 latent pixels, 16 channels like Z-Image


def test_the_same_seed_draws_the_same_image_and_another_seed_a_different_one(tiny):
    first, again, other = (tiny.generate(request(seed=seed), lambda *_: None) for seed in (5, 5, 6))
    assert first.tobytes() == again.tobytes()
    assert first.tobytes() != other.tobytes()


def test_sizes_the_model_cannot_take_are_snapped_then_cropped_to_the_exact_size(tiny):
    shapes = []
    image = tiny.generate(request(width=260, height=300), lambda s, t, latents: shapes.append(latents.shape))
    assert image.size == (260, 300)
    assert tuple(shapes[0][-2:]) == (304 // 8, 272 // 8)  # rendered at 272x304, multiples of 16


def test_an_exception_in_the_step_callback_stops_the_run(tiny):
    def stop(step, total, latents):
        if step == 2:
            raise InterruptedError

    with pytest.raises(InterruptedError):
        tiny.generate(request(steps=5), stop)


@pytest.mark.parametrize("model", [Z_IMAGE_TURBO, SDXL])
def test_loading_a_real_model_without_weights_names_the_model_and_how_to_provide_them(model, settings, tmp_path):
    settings.DIFFUSION_WEIGHTS_DIR = str(tmp_path)
    with pytest.raises(WeightsUnavailable) as error:
        load_pipeline(model, "cpu")
    assert model in str(error.value) and "DIFFUSION_WEIGHTS_DIR" in str(error.value)


def test_auto_falls_back_to_tiny_without_cuda_or_weights(caplog):
    assert build_backend("auto").name == "tiny"
    assert "tiny" in caplog.text


def test_an_unknown_backend_choice_is_an_error():
    with pytest.raises(ValueError, match="auto, tiny or diffusers"):
        build_backend("magic")


def test_a_prompt_longer_than_the_model_reads_is_flagged_and_still_drawn(tiny):
    """Z-Image reads 512 tokens; the tiny tokenizer makes a token of every byte, so 600 characters are too many."""
    long = request(prompt="a teapot on a table " * 30, steps=1)
    assert tiny.prompt_is_cut(long)
    assert tiny.generate(long, lambda *_: None).size == (256, 256)
    assert not tiny.prompt_is_cut(request(prompt="a teapot"))


@pytest.mark.parametrize(
    "fields", [{}, {"model": SDXL, "scheduler": "EulerDiscrete", "guidance": 7.0, "negative_prompt": "flat"}]
)
def test_an_image_from_the_kept_embeddings_is_the_one_the_prompt_draws(tiny, fields):
    """The backend hands the pipeline embeddings it computed once; the pipeline itself from the prompt agrees."""
    import torch

    asked = request(**fields)
    from_embeddings = tiny.generate(asked, lambda *_: None)
    pipeline = tiny._pipeline(asked.model)
    with torch.inference_mode():
        from_prompt = pipeline(
            prompt=asked.prompt,
            negative_prompt=asked.negative_prompt or None,
            width=asked.width,
            height=asked.height,
            num_inference_steps=asked.steps,
            guidance_scale=asked.guidance,
            generator=torch.Generator(device="cpu").manual_seed(asked.seed),
        ).images[0]
    assert from_embeddings.tobytes() == from_prompt.tobytes()
