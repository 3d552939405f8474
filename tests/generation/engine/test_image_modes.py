"""Every image mode through the workflow on the tiny pipelines of both models: sizes, exact preservation, steps."""

import base64
import io
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from generation.engine.diffusion import DiffusionRequest
from generation.engine.image_ops import blend_tiles, denoising_steps, enlarge, tile_boxes
from generation.engine.latent_previews import preview_from_latents
from generation.engine.models_catalog import SDXL, Z_IMAGE_TURBO
from generation.engine.paths import get_path
from generation.engine.workflow import (
    WorkflowConfigError,
    WorkflowContext,
    pipeline_requires_source,
    run_pipeline,
    validate_pipeline,
)

from .conftest import MODEL_SETTINGS, job_input, photo

MODELS = pytest.mark.parametrize("model", [Z_IMAGE_TURBO, SDXL])


def run(job, stored: dict[str, Image.Image]):
    """Run the job's workflow as the worker does, its storage being `stored`; the context, images and steps."""
    steps: list[tuple[int, int, tuple[int, ...]]] = []
    images: list[Image.Image] = []
    context = WorkflowContext(
        job=job,
        load_image=stored.__getitem__,
        store_image=lambda context, index, image: images.append(image) or image,
        on_step=lambda step, total, latents: steps.append((step, total, tuple(latents.shape))),
    )
    run_pipeline(job.workflow, context)
    return context, images, steps


def image_job(model, mode, template=(), **fields):
    """A job of `mode` on `model` whose workflow is what submit resolves: the path's, with the mode's nodes."""
    workflow = validate_pipeline(get_path("fashion").build_pipeline(list(template), mode=mode))
    return job_input(**(MODEL_SETTINGS[model] | {"mode": mode, "workflow": workflow, "source_key": "src"} | fields))


def as_array(image):
    return np.asarray(image, dtype=np.int16)


@MODELS
@pytest.mark.parametrize(("steps", "strength"), [(5, 0.6), (3, 0.7), (10, 0.05)])
def test_image_to_image_reports_exactly_the_steps_submit_counted(backend, model, steps, strength):
    job = image_job(model, "image", steps=steps, strength=strength, num_images=2)
    _, images, reported = run(job, {"src": photo(256, 192)})
    assert [image.size for image in images] == [(256, 192)] * 2
    assert images[0].tobytes() != images[1].tobytes()  # a variation each: seed + index
    total = denoising_steps(job)
    assert [(step, of) for step, of, _ in reported] == [(step, total) for step in range(1, total + 1)]


@MODELS
def test_image_to_image_takes_the_output_size_asked_and_differs_from_the_source(backend, model):
    source = photo(320, 240)
    _, images, _ = run(image_job(model, "image", strength=0.6, width=256, height=192), {"src": source})
    assert images[0].size == (256, 192)
    assert not (as_array(images[0]) == as_array(source.resize((256, 192)))).all()


def final_latents(backend, model, source, strength):
    latents = []
    request = DiffusionRequest(
        prompt="a teapot", negative_prompt="", steps=10, width=256, height=192, seed=1, mode="image",
        image=source, strength=strength, **{k: v for k, v in MODEL_SETTINGS[model].items() if k != "negative_prompt"},
    )  # fmt: skip
    backend.generate(request, lambda step, total, tensor: latents.append(tensor.float().numpy().ravel().copy()))
    return latents[-1]


@MODELS
def test_image_to_image_at_low_strength_stays_close_to_the_source_in_latent_space(backend, model):
    """Random-weight VAEs do not reconstruct pixels, so the source's own latents are the yardstick: at strength
    0.1 the drawn latents correlate with them, at 1.0 (pure noise to start) hardly at all."""
    import torch

    source = photo(256, 192)
    pipeline = backend._pipeline(model)
    with torch.inference_mode():
        encoded = pipeline.vae.encode(pipeline.image_processor.preprocess(source)).latent_dist.mode()
    encoded = encoded.float().numpy().ravel()
    low, full = (np.corrcoef(final_latents(backend, model, source, s), encoded)[0, 1] for s in (0.1, 1.0))
    assert low > 0.1 and low > 3 * abs(full)


@MODELS
def test_inpaint_keeps_every_pixel_outside_the_mask(backend, model):
    source = photo(256, 192)
    mask = Image.new("L", (128, 96), 0)  # half the source's size: scaled to it
    mask.paste(255, (32, 24, 96, 72))
    job = image_job(model, "inpaint", mask_key="mask", strength=1.0, steps=3)
    _, images, reported = run(job, {"src": source, "mask": mask})
    out, kept = as_array(images[0]), as_array(mask.resize((256, 192))) == 0
    assert images[0].size == (256, 192)
    assert (out[kept] == as_array(source)[kept]).all()
    assert (out[64:128, 80:176] != as_array(source)[64:128, 80:176]).mean() > 0.9  # redrawn inside
    assert len(reported) == denoising_steps(job) == 3


@MODELS
@pytest.mark.parametrize(("anchor", "box"), [("left", (0, 0, 192, 192)), ("center", (96, 0, 288, 192))])
def test_outpaint_keeps_the_placed_source_exactly_and_draws_the_new_area(backend, model, anchor, box):
    source = photo(192, 192)
    job = image_job(model, "outpaint", outpaint_anchor=anchor, width=384, height=192, steps=3, strength=0.5)
    context, images, reported = run(job, {"src": source})
    out = as_array(images[0])
    assert images[0].size == (384, 192)
    assert (out[:, box[0] : box[2]] == as_array(source)).all()
    new = np.ones(384, dtype=bool)
    new[box[0] : box[2]] = False
    assert (out[:, new] != as_array(context.source)[:, new]).mean() > 0.9  # not the pre-filled canvas
    assert len(reported) == denoising_steps(job) == 3  # the new area from noise, whatever the strength


@MODELS
def test_upscale_is_exactly_factor_times_the_source_blended_from_refined_tiles(backend, model):
    """The output is the ramp-weighted blend (image_ops.blend_tiles, whose cross-fade test_image_ops checks) of the
    tiles the backend draws from the Lanczos enlargement. Random weights draw noise, on which no seam statistic
    tells a hard paste from a blend (measured: 1.4-2.0 against 1.0-1.4), so the seams are checked there instead."""
    source = photo(128, 96)
    template = [{"node_type": "upscale", "parameters": {"tile_size": 128, "tile_overlap": 32}}]
    job = image_job(model, "upscale", template, upscale_factor=2, width=256, height=192, strength=0.5, steps=4)
    assert [node["node_type"] for node in job.workflow] == ["prompt_enhancement", "load_image", "upscale", "save_image"]
    context, images, reported = run(job, {"src": source})
    assert images[0].size == (256, 192)
    boxes = tile_boxes(256, 192, tile=128, overlap=32)
    assert len(boxes) == 6
    assert len(reported) == denoising_steps(job) == 6 * 2
    assert [step for step, _, _ in reported] == list(range(1, 13))
    enlarged, tiles = enlarge(source, 2), []
    for box in boxes:
        crop = enlarged.crop(box)
        request = DiffusionRequest.for_image(
            job, prompt=context.prompt, negative_prompt=context.negative_prompt, index=0, mode="image", image=crop,
            strength=0.5,
        )  # fmt: skip
        tiles.append((box, backend.generate(replace(request, width=crop.width, height=crop.height), lambda *_: None)))
        assert not (as_array(tiles[-1][1]) == as_array(crop)).all()  # refined, not just enlarged
    assert (as_array(images[0]) == as_array(blend_tiles((256, 192), tiles))).all()


@MODELS
def test_derived_pipelines_share_the_base_pipelines_weights(backend, model):
    base = backend._pipeline(model)
    for mode in ("image", "inpaint"):
        derived = backend._pipeline_for(model, mode)
        assert derived is backend._pipeline_for(model, mode)  # derived once, kept
        assert type(derived).__name__ != type(base).__name__
        for name, module in base.components.items():
            if hasattr(module, "parameters"):
                ours = [parameter.data_ptr() for parameter in getattr(derived, name).parameters()]
                assert ours == [parameter.data_ptr() for parameter in module.parameters()], name


def test_forgetting_a_model_drops_its_derived_pipelines():
    from generation.engine.diffusion.backends import TinyBackend

    tiny = TinyBackend()
    derived = tiny._pipeline_for(Z_IMAGE_TURBO, "inpaint")
    entry = tiny.pool.get(Z_IMAGE_TURBO)
    tiny.forget_model(Z_IMAGE_TURBO)
    assert entry.variants == {}
    assert tiny._pipeline_for(Z_IMAGE_TURBO, "inpaint") is not derived


@MODELS
def test_an_inpaint_preview_shows_the_whole_canvas(backend, model):
    mask = Image.new("L", (256, 128), 0)
    mask.paste(255, (0, 0, 64, 64))
    job = image_job(model, "inpaint", mask_key="mask", strength=1.0, steps=2, width=256, height=128)
    latents = []
    context = WorkflowContext(
        job=job,
        load_image={"src": photo(256, 128), "mask": mask}.__getitem__,
        on_step=lambda step, total, tensor: latents.append(tensor),
        store_image=lambda context, index, image: image,
    )
    run_pipeline(job.workflow, context)
    assert tuple(latents[-1].shape[-2:]) == (16, 32)  # the canvas at 1/8, not the masked region
    preview = preview_from_latents(latents[-1])
    assert Image.open(io.BytesIO(base64.b64decode(preview.split(",", 1)[1]))).size == (32, 16)


def test_build_pipeline_adds_load_image_before_the_drawing_node_for_a_job_with_a_source():
    path = get_path("eats")
    types = {mode: [node["node_type"] for node in path.build_pipeline([], mode=mode)] for mode in ("text", "image")}
    assert types["text"] == ["prompt_enhancement", "generation", "save_image"]
    assert types["image"] == ["prompt_enhancement", "load_image", "generation", "save_image"]
    template = [{"node_type": "generation", "parameters": {"negative_prompt": "flat"}}, {"node_type": "save_image"}]
    upscale = [node["node_type"] for node in path.build_pipeline(template, mode="upscale")]
    assert upscale == ["prompt_enhancement", "load_image", "upscale", "save_image"]


def test_a_template_with_a_load_image_node_requires_a_source():
    pipeline = validate_pipeline(
        [{"node_type": "load_image"}, {"node_type": "generation", "parameters": {"mode": "image"}}]
    )
    assert pipeline_requires_source(pipeline)
    assert not pipeline_requires_source(validate_pipeline([{"node_type": "generation"}]))


@pytest.mark.parametrize(
    ("pipeline", "path"),
    [
        ([{"node_type": "generation", "parameters": {"mode": "image"}}], "pipeline[0]"),
        ([{"node_type": "upscale"}, {"node_type": "load_image"}], "pipeline[0]"),
        ([{"node_type": "load_image"}, {"node_type": "generation", "parameters": {"mode": "sketch"}}],
         "pipeline[1].parameters.mode"),
        ([{"node_type": "load_image"}, {"node_type": "upscale", "parameters": {"tile_size": 100}}],
         "pipeline[1].parameters.tile_size"),
        ([{"node_type": "load_image"}, {"node_type": "upscale", "parameters": {"tile_overlap": 900}}],
         "pipeline[1].parameters.tile_overlap"),
        ([{"node_type": "load_image", "parameters": {"key": "x"}}], "pipeline[0].parameters.key"),
        ([{"node_type": "load_image"}, {"node_type": "save_image"}, {"node_type": "upscale"}], "pipeline"),
    ],
)  # fmt: skip
def test_image_nodes_are_validated_like_the_others(pipeline, path):
    with pytest.raises(WorkflowConfigError) as error:
        validate_pipeline(pipeline)
    assert error.value.path == path


def test_save_image_may_follow_an_upscale():
    validate_pipeline([{"node_type": "load_image"}, {"node_type": "upscale"}, {"node_type": "save_image"}])


def test_a_job_without_a_source_fails_clearly_at_load_image():
    job = image_job(Z_IMAGE_TURBO, "image", source_key="", strength=0.5)
    with pytest.raises(RuntimeError, match="has none"):
        run(job, {})
