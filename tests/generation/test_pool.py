"""The model pool: models load on demand within a byte budget, the least recently used released with its
derived pipelines; CPU offload; the fast-path settings; the real models' sizes from their configurations."""

import functools
import gc
import weakref

import pytest
import torch
from PIL import Image

from generation import worker
from generation.engine.diffusion import fastpaths
from generation.engine.diffusion.backends import TinyBackend
from generation.engine.diffusion.pool import (
    GIB,
    REAL_COMPONENT_BYTES,
    ModelPool,
    budget_from_settings,
    expected_bytes,
    pipeline_component_bytes,
)
from generation.engine.diffusion.tiny import build_tiny_sdxl, build_tiny_z_image
from generation.engine.models_catalog import SDXL, Z_IMAGE_TURBO

from ..factories import diffusion_request

# Three models of known sizes, all tiny: two Z-Images (other seeds) and an SDXL.
BUILDERS = {"z-a": lambda: build_tiny_z_image(seed=1), "z-b": lambda: build_tiny_z_image(seed=2), "xl": build_tiny_sdxl}
Z_BYTES = sum(pipeline_component_bytes(build_tiny_z_image()).values())
XL_BYTES = sum(pipeline_component_bytes(build_tiny_sdxl()).values())


class Loads:
    """The load function: records what was resident when each model was loaded."""

    def __init__(self):
        self.calls: list[tuple[str, list[str]]] = []
        self.pool: ModelPool | None = None

    def __call__(self, model):
        self.calls.append((model, [entry["model"] for entry in self.pool.resident()]))
        return BUILDERS[model]()


def pool_of(budget, **options):
    loads = Loads()
    loads.pool = ModelPool(load=loads, device="cpu", budget_bytes=budget, **options)
    return loads.pool, loads


def test_models_load_once_on_demand_and_stay_while_they_fit():
    pool, loads = pool_of(None)
    first = pool.get("z-a").pipeline
    assert pool.get("z-a").pipeline is first
    pool.get("xl")
    assert [call[0] for call in loads.calls] == ["z-a", "xl"]
    assert [entry["model"] for entry in pool.resident()] == ["z-a", "xl"]
    assert pool.used_bytes == Z_BYTES + XL_BYTES


def test_the_least_recently_used_model_is_released_when_the_next_would_not_fit():
    pool, loads = pool_of(2 * Z_BYTES + XL_BYTES // 2)  # room for two Z-Images, not for a third model
    pool.get("z-a")
    pool.get("z-b")
    pool.get("z-a")  # z-a used last: z-b is now the least recently used
    pool.get("xl")
    assert [entry["model"] for entry in pool.resident()] == ["z-a", "xl"]
    assert pool.used_bytes <= pool.budget_bytes
    pool.get("z-b")
    assert [entry["model"] for entry in pool.resident()] == ["xl", "z-b"]
    assert [call[0] for call in loads.calls] == ["z-a", "z-b", "xl", "z-b"]


def test_room_is_made_before_loading_once_the_size_is_known():
    pool, loads = pool_of(XL_BYTES + Z_BYTES // 2, known_sizes={"xl": {"unet": XL_BYTES}})
    pool.get("z-a")
    pool.get("xl")
    # The SDXL's size was known: z-a was gone before it loaded, so the two were never on the device together.
    assert loads.calls[-1] == ("xl", [])
    pool.get("z-a")  # z-a's size was measured at its first load
    assert loads.calls[-1] == ("z-a", [])


def test_a_model_larger_than_the_budget_still_loads_alone():
    pool, _ = pool_of(Z_BYTES // 2)
    pool.get("z-a")
    pool.get("xl")
    assert [entry["model"] for entry in pool.resident()] == ["xl"]


def test_releasing_a_model_frees_it_and_its_derived_pipelines():
    pool, _ = pool_of(None)
    entry = pool.get("z-a")
    from diffusers import ZImageImg2ImgPipeline

    entry.variants["image"] = ZImageImg2ImgPipeline.from_pipe(entry.pipeline)
    transformer = weakref.ref(entry.pipeline.transformer)
    variant = weakref.ref(entry.variants["image"])
    del entry
    assert pool.release("z-a")
    gc.collect()
    assert transformer() is None and variant() is None
    assert pool.resident() == [] and not pool.release("z-a")


# Two steps at 64 px: these tests count objects and compare pixels, not quality.
tiny_request = functools.partial(diffusion_request, steps=2, width=64, height=64, seed=3)


def test_the_backend_releases_a_model_with_its_img2img_pipeline_and_embeddings(settings):
    settings.DIFFUSION_VRAM_BUDGET_GB = (max(Z_BYTES, XL_BYTES) + 1) / GIB  # one tiny model at a time
    backend = TinyBackend()
    source = Image.new("RGB", (64, 64), (200, 30, 30))
    backend.generate(tiny_request(mode="image", image=source, strength=0.5), lambda *_: None)
    derived = weakref.ref(backend.pool.get(Z_IMAGE_TURBO).variants["image"])
    base = weakref.ref(backend._pipeline(Z_IMAGE_TURBO))
    assert backend._conditioning_key[0] == Z_IMAGE_TURBO
    sdxl = tiny_request(model=SDXL, scheduler="EulerDiscrete", guidance=5.0, negative_prompt="blurry")
    backend.generate(sdxl, lambda *_: None)
    gc.collect()
    assert [entry["model"] for entry in backend.pool.resident()] == [SDXL]
    assert derived() is None and base() is None
    assert backend._conditioning_key[0] == SDXL


def test_cpu_offload_setting_runs_the_pipeline_through_offload_hooks_and_charges_its_largest_part(settings):
    plain = TinyBackend()
    settings.DIFFUSION_MODEL_CPU_OFFLOAD = True
    offloaded = TinyBackend()
    entry = offloaded.pool.get(Z_IMAGE_TURBO)
    assert entry.offloaded and offloaded.pool.offload
    # diffusers' model offload: each component carries accelerate's hook that moves it in and out.
    assert all(hasattr(entry.pipeline.components[name], "_hf_hook") for name in ("transformer", "text_encoder", "vae"))
    assert entry.bytes == max(entry.components.values()) < sum(entry.components.values())
    image = offloaded.generate(tiny_request(), lambda *_: None)
    assert image.tobytes() == plain.generate(tiny_request(), lambda *_: None).tobytes()
    # An img2img pipeline derived from the offloaded one runs through the same hooks.
    source = Image.new("RGB", (64, 64), (20, 160, 90))
    img2img = tiny_request(mode="image", image=source, strength=0.5)
    assert offloaded.generate(img2img, lambda *_: None).tobytes() == plain.generate(img2img, lambda *_: None).tobytes()


def test_a_model_is_charged_all_its_parts_or_with_offload_its_largest():
    assert expected_bytes({"a": 3, "b": 5}, offload=False) == 8
    assert expected_bytes({"a": 3, "b": 5}, offload=True) == 5


def test_budget_from_settings(settings):
    settings.DIFFUSION_VRAM_BUDGET_GB = 21.5
    assert budget_from_settings("cpu") == int(21.5 * GIB)
    settings.DIFFUSION_VRAM_BUDGET_GB = 0
    assert budget_from_settings("cpu") is None  # automatic: no limit without a card


def test_on_a_24_gb_card_each_model_fits_alone_and_not_both():
    """The README's figures: the source documents' RTX 3090 (24 GiB) with the default 3 GiB reserve."""
    budget = 24 * GIB - 3 * GIB
    z_image, sdxl = (expected_bytes(REAL_COMPONENT_BYTES[model], offload=False) for model in (Z_IMAGE_TURBO, SDXL))
    assert z_image <= budget and sdxl <= budget < z_image + sdxl
    # With model CPU offload a card needs the largest component only: Z-Image's transformer.
    assert expected_bytes(REAL_COMPONENT_BYTES[Z_IMAGE_TURBO], offload=True) < 12 * GIB


def test_real_sizes_are_the_published_configurations_counted():
    from generation.engine.diffusion.random_weights import build_modules, component_bytes

    for model, sizes in REAL_COMPONENT_BYTES.items():
        assert component_bytes(model) == sizes
    parameters = {
        name: sum(p.numel() for p in m.parameters()) for name, m in build_modules(SDXL, device="meta").items()
    }
    assert round(parameters["unet"] / 1e9, 3) == 2.567  # SDXL base's UNet, as published


def test_fast_path_settings_are_applied_at_load(settings):
    settings.DIFFUSION_CHANNELS_LAST_VAE = True
    settings.DIFFUSION_COMPILE = "blocks"
    settings.DIFFUSION_ATTENTION_BACKEND = "native"
    pipeline = TinyBackend()._pipeline(Z_IMAGE_TURBO)
    conv = pipeline.vae.decoder.conv_in.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    blocks = [m for m in pipeline.transformer.modules() if type(m).__name__ == "ZImageTransformerBlock"]
    assert blocks and all(block._compiled_call_impl is not None for block in blocks)
    assert pipeline.transformer._compiled_call_impl is None  # "blocks": the repeated block, not the whole module
    processors = [m.processor for m in pipeline.transformer.modules() if hasattr(m, "processor")]
    assert processors and {str(p._attention_backend.value) for p in processors} == {"native"}


def test_an_unknown_compile_choice_is_refused(settings):
    settings.DIFFUSION_COMPILE = "fast"
    with pytest.raises(ValueError, match="DIFFUSION_COMPILE"):
        TinyBackend()


def test_the_worker_warms_up_each_loaded_model_before_its_first_job(settings):
    settings.DIFFUSION_WARMUP = True
    settings.DIFFUSION_WARMUP_SIZE = 64
    backend = TinyBackend()
    steps = []
    backend._pipeline(Z_IMAGE_TURBO).transformer.register_forward_hook(lambda *_: steps.append(1))
    worker.warm_up_models(backend)
    assert len(steps) == 9  # Turbo's default 9 steps, guidance 0: one transformer pass each


def test_no_warm_up_without_compile_or_the_setting(settings):
    settings.DIFFUSION_WARMUP = False
    settings.DIFFUSION_COMPILE = "off"
    assert not fastpaths.warm_up_wanted()
    settings.DIFFUSION_COMPILE = "blocks"
    assert fastpaths.warm_up_wanted()
