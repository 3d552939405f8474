"""SDXL's IP-Adapter on the tiny SDXL: tiny adapter weights saved in DIFFUSION_WEIGHTS_DIR's layout, loaded by
diffusers' own load_ip_adapter into the backend's model pool, switched on for a reference and off otherwise."""

import logging
from dataclasses import replace

import numpy as np
import pytest
import torch

from generation.engine.diffusion import WeightsUnavailable, ip_adapter
from generation.engine.diffusion.backends import DiffusersBackend, tiny_factory
from generation.engine.image_ops import denoising_steps
from generation.engine.job_input import IP_ADAPTER
from generation.engine.models_catalog import SDXL, Z_IMAGE_TURBO
from generation.engine.paths import get_path
from generation.engine.workflow import WorkflowContext, run_pipeline, validate_pipeline
from generation.models import ReferenceMethod

from ...factories import diffusion_request
from .conftest import MODEL_SETTINGS, job_input, photo

SDXL_REQUEST = {**MODEL_SETTINGS[SDXL], "steps": 3, "width": 128, "height": 128, "seed": 7}


@pytest.fixture
def backend():
    """A backend of its own (the tiny pipelines, nothing preloaded), so no adapter outlives its test."""
    return DiffusersBackend("tiny", "cpu", factory=tiny_factory)


def draw(backend, reference=None, scale=0.45, **fields):
    request = diffusion_request(**(SDXL_REQUEST | fields), reference=reference, reference_scale=scale)
    return np.asarray(backend.generate(request, lambda *_: None), dtype=np.int16)


def test_the_engine_names_ip_adapter_as_the_job_model_does():
    assert IP_ADAPTER == ReferenceMethod.IP_ADAPTER


@pytest.mark.parametrize(("strength", "scale"), [(0.55, 0.45), (0.05, 0.95), (1.0, 0.0), (0.3, 0.7)])
def test_the_scale_is_how_close_to_the_reference_the_strength_keeps_the_image(strength, scale):
    assert ip_adapter.scale_for(strength) == scale


class TestInstalled:
    def test_without_a_weights_folder_nothing_is_installed(self, settings):
        settings.DIFFUSION_WEIGHTS_DIR = ""
        assert not ip_adapter.installed(SDXL) and ip_adapter.missing_files() == []

    def test_an_empty_weights_folder_has_no_adapter(self, settings, tmp_path):
        settings.DIFFUSION_WEIGHTS_DIR = str(tmp_path)
        assert not ip_adapter.installed(SDXL)

    def test_the_adapters_files_install_it_for_sdxl_only(self, ip_adapter_weights):
        assert ip_adapter.installed(SDXL) and ip_adapter.missing_files() == []
        assert not ip_adapter.installed(Z_IMAGE_TURBO)  # Z-Image has no IP-Adapter

    def test_a_partial_install_counts_as_installed_so_the_worker_reports_what_is_missing(self, ip_adapter_weights):
        encoder_config = ip_adapter_weights / "IP-Adapter" / "sdxl_models" / "image_encoder" / "config.json"
        encoder_config.unlink()
        assert ip_adapter.installed(SDXL) and ip_adapter.missing_files() == [encoder_config]


class TestGenerate:
    def test_a_reference_changes_the_image_and_another_reference_changes_it_again(self, backend, ip_adapter_weights):
        base = draw(backend)
        first = draw(backend, reference=photo(96, 128, seed=1))
        second = draw(backend, reference=photo(96, 128, seed=2))
        assert np.abs(first - base).max() > 0 and np.abs(second - first).max() > 0

    def test_scale_zero_draws_exactly_the_image_without_a_reference(self, backend, ip_adapter_weights):
        base = draw(backend)
        assert (draw(backend, reference=photo(96, 128), scale=0.0) == base).all()

    def test_a_job_without_a_reference_after_one_with_it_draws_exactly_the_base_image(
        self, backend, ip_adapter_weights
    ):
        base = draw(backend)
        with_reference = draw(backend, reference=photo(96, 128))
        assert (draw(backend) == base).all()
        assert (draw(backend, reference=photo(96, 128)) == with_reference).all()  # switched back on, same image
        image_to_image = dict(mode="image", image=photo(128, 128, seed=3), strength=0.6)
        fresh = DiffusersBackend("tiny", "cpu", factory=tiny_factory)  # never had an adapter
        assert (draw(backend, **image_to_image) == draw(fresh, **image_to_image)).all()

    def test_the_adapter_loads_once_per_pooled_pipeline_and_goes_with_it(self, backend, ip_adapter_weights, caplog):
        caplog.set_level(logging.INFO, logger="generation.engine.diffusion.ip_adapter")
        draw(backend, reference=photo(64, 64))
        entry = backend.pool.get(SDXL)
        loaded, grown = entry.ip_adapter, entry.bytes
        draw(backend)
        draw(backend, reference=photo(64, 64, seed=4))
        assert entry.ip_adapter is loaded and "image_encoder" in entry.components
        assert [r.message for r in caplog.records].count("IP-Adapter loaded") == 1
        assert backend.pool.release(SDXL) and loaded.pipeline.unet is not backend.pool.get(SDXL).pipeline.unet
        assert backend.pool.get(SDXL).ip_adapter is None and backend.pool.get(SDXL).bytes < grown

    def test_without_the_files_the_request_fails_naming_them(self, backend, settings, tmp_path):
        settings.DIFFUSION_WEIGHTS_DIR = str(tmp_path)
        with pytest.raises(WeightsUnavailable, match=r"missing .*ip-adapter_sdxl\.safetensors") as error:
            draw(backend, reference=photo(64, 64))
        message = str(error.value)
        assert "DIFFUSION_WEIGHTS_DIR/IP-Adapter" in message and "hf download h94/IP-Adapter" in message

    def test_a_missing_image_encoder_fails_naming_it(self, backend, ip_adapter_weights):
        (ip_adapter_weights / "IP-Adapter" / "sdxl_models" / "image_encoder" / "model.safetensors").unlink()
        with pytest.raises(WeightsUnavailable, match=r"incomplete on this machine: missing .*image_encoder"):
            draw(backend, reference=photo(64, 64))

    def test_with_cpu_offload_the_image_encoder_gets_its_hook_and_draws_the_same(
        self, backend, ip_adapter_weights, settings
    ):
        settings.DIFFUSION_MODEL_CPU_OFFLOAD = True
        offloaded = DiffusersBackend("tiny", "cpu", factory=tiny_factory)
        reference = photo(96, 128, seed=6)
        difference = np.abs(draw(offloaded, reference=reference) - draw(backend, reference=reference))
        assert difference.max() <= 1  # the same picture: offload runs on "cpu:0", a rounding apart at most
        assert (draw(offloaded) == draw(backend)).all()
        entry = offloaded.pool.get(SDXL)
        assert hasattr(entry.pipeline.image_encoder, "_hf_hook")  # moved in and out like the other components
        assert entry.bytes == max(entry.components.values())

    @pytest.mark.parametrize("damage", ["truncated", "foreign"])
    def test_corrupt_weights_fail_clearly_and_the_model_still_draws_its_base_image(
        self, backend, ip_adapter_weights, damage
    ):
        base = draw(backend)
        weight_file = ip_adapter_weights / "IP-Adapter" / "sdxl_models" / "ip-adapter_sdxl.safetensors"
        if damage == "truncated":
            weight_file.write_bytes(weight_file.read_bytes()[:300])
        else:  # a safetensors file of some other adapter: keys this UNet has no place for
            from safetensors.torch import save_file

            save_file(
                {"image_proj.proj.weight": torch.zeros(8, 8), "ip_adapter.1.to_k_ip.weight": torch.zeros(4, 4)},
                str(weight_file),
            )
        with pytest.raises(WeightsUnavailable, match=r"IP-Adapter weights for SDXL \(h94/IP-Adapter\) are unreadable"):
            draw(backend, reference=photo(64, 64))
        assert SDXL not in backend.pool  # dropped: a load that failed half-way never serves a job
        assert (draw(backend) == base).all()

    def test_a_reference_on_z_image_is_refused(self, backend, ip_adapter_weights):
        request = diffusion_request(reference=photo(64, 64), reference_scale=0.5)
        with pytest.raises(ValueError, match="has no IP-Adapter"):
            backend.generate(request, lambda *_: None)


@pytest.fixture
def process_backend():
    """The process's backend, as the generation node gets it; its SDXL (and the adapter in it) dropped after."""
    from generation.engine.diffusion import get_backend

    backend = get_backend()
    yield backend
    backend.forget_model(SDXL)


def test_an_ip_adapter_job_draws_from_text_with_the_whole_reference_at_full_steps(process_backend, ip_adapter_weights):
    """A scene job whose reference goes through IP-Adapter: its mode stays image (it reads the reference), but it is
    drawn from noise at the job's full steps, conditioned on the whole reference at 1 - strength."""
    workflow = validate_pipeline(get_path("cartoon").build_pipeline([], mode="image"))
    fields = MODEL_SETTINGS[SDXL] | dict(steps=3, width=128, height=128, seed=7, workflow=workflow, source_key="ref")
    job = job_input(**fields, mode="image", strength=0.55, reference_method=IP_ADAPTER)
    reference = photo(80, 120, seed=5)
    images, steps = [], []
    context = WorkflowContext(
        job=job,
        load_image={"ref": reference}.__getitem__,
        store_image=lambda context, index, image: images.append(image) or image,
        on_step=lambda step, total, latents: steps.append((step, total)),
    )
    run_pipeline(job.workflow, context)

    assert steps == [(step, 3) for step in range(1, 4)] == [(step, denoising_steps(job)) for step in range(1, 4)]
    prompts = {"prompt": context.prompt, "negative_prompt": context.negative_prompt}
    drawn = np.asarray(images[0], dtype=np.int16)
    assert (drawn == draw(process_backend, reference=reference, scale=0.45, **prompts)).all()
    assert np.abs(drawn - draw(process_backend, **prompts)).max() > 0
    assert denoising_steps(replace(job, reference_method="image")) == 1  # image-to-image at 0.55 would run int(1.65)
