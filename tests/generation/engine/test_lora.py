"""LoRA styles on the tiny pipelines: `check_lora_file` reads a file's header against a base model's layers, and
the backend loads styles as diffusers adapters, applies them at their weights, caches them (LRU by count and
size) and switches them all off for a request without styles."""

import hashlib
import io
import json
import logging
import pickle
import struct
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from generation.engine.diffusion import LoraStyle
from generation.engine.diffusion.backends import DiffusersBackend, tiny_factory
from generation.engine.diffusion.lora import LoraFileError, StyleUnavailable, adapter_name, check_lora_file
from generation.engine.models_catalog import SDXL, Z_IMAGE_TURBO

from ...factories import diffusion_request, lora_file
from .conftest import MODEL_SETTINGS

MODELS = [Z_IMAGE_TURBO, SDXL]
REQUEST = {"steps": 2, "width": 128, "height": 128, "seed": 11}
MAX_BYTES = 2**30


def check(data: bytes, base_model: str = Z_IMAGE_TURBO, max_bytes: int = MAX_BYTES):
    return check_lora_file(io.BytesIO(data), base_model=base_model, max_bytes=max_bytes)


def header_only(header: dict) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw


@pytest.fixture(scope="module")
def files():
    """One LoRA per (model, seed), built once for the module; SDXL's seed 2 adapts its text encoder too."""
    return {
        (model, seed): lora_file(model, seed=seed, text_encoder=(model == SDXL and seed == 2))
        for model in MODELS
        for seed in (1, 2, 3)
    }


@pytest.fixture
def backend():
    """A backend of its own (the tiny pipelines, nothing preloaded), so no adapter outlives its test."""
    return DiffusersBackend("tiny", "cpu", factory=tiny_factory)


def style(tmp_path, data: bytes, weight: float = 1.0, name: str = "Linen") -> LoraStyle:
    sha256 = hashlib.sha256(data).hexdigest()
    path = tmp_path / f"{sha256}.safetensors"
    path.write_bytes(data)
    return LoraStyle(path=str(path), sha256=sha256, weight=weight, name=name)


def draw(backend, model: str, *styles: LoraStyle) -> np.ndarray:
    request = diffusion_request(**(MODEL_SETTINGS[model] | REQUEST), styles=styles)
    return np.asarray(backend.generate(request, lambda *_: None), dtype=np.int16)


class TestCheckLoraFile:
    @pytest.mark.parametrize("model", MODELS)
    def test_a_lora_saved_by_diffusers_for_the_model_passes_with_its_rank_and_targets(self, files, model):
        summary = check(files[(model, 1)], model)
        denoiser = "transformer" if model == Z_IMAGE_TURBO else "unet"
        assert (summary.rank, summary.targets, summary.dtype) == (4, (denoiser,), "F32")
        assert summary.layers > 0 and summary.tensors == 2 * summary.layers

    def test_an_sdxl_lora_with_a_text_encoder_names_both_targets(self, files):
        assert check(files[(SDXL, 2)], SDXL).targets == ("unet", "text_encoder")

    def test_the_rank_is_the_files(self):
        assert check(lora_file(Z_IMAGE_TURBO, rank=2)).rank == 2

    @pytest.mark.parametrize(("model", "other"), [(Z_IMAGE_TURBO, SDXL), (SDXL, Z_IMAGE_TURBO)])
    def test_the_other_base_models_file_is_refused_naming_its_model(self, files, model, other):
        with pytest.raises(LoraFileError, match=r"This LoRA was made for .*, not .*: choose .* as its base model"):
            check(files[(other, 1)], model)

    def test_kohya_names_are_read_as_diffusers_converts_them(self, files):
        """A kohya-style Z-Image file (lora_unet_ names, lora_down/lora_up, an alpha per layer) passes as the
        diffusers one it converts to."""
        from safetensors.torch import load

        tensors = load(files[(Z_IMAGE_TURBO, 1)])
        kohya = {}
        for key, value in tensors.items():
            module = key.removeprefix("transformer.").rsplit(".lora_", 1)[0].replace(".", "_")
            part = "lora_down" if ".lora_A." in key else "lora_up"
            kohya[f"lora_unet_{module}.{part}.weight"] = value
            kohya[f"lora_unet_{module}.alpha"] = torch.tensor(4.0)
        summary = check(save_bytes(kohya))
        assert (summary.rank, summary.layers) == (4, check(files[(Z_IMAGE_TURBO, 1)]).layers)

    def test_a_pickle_renamed_safetensors_is_refused_unopened(self):
        with pytest.raises(LoraFileError, match=r"Python pickle .* never opened"):
            check(pickle.dumps({"weight": [1.0]}, protocol=4))

    def test_a_torch_zip_checkpoint_is_refused(self):
        buffer = io.BytesIO()
        torch.save({"lora.weight": torch.zeros(2, 2)}, buffer)
        with pytest.raises(LoraFileError, match="zip archive"):
            check(buffer.getvalue())

    def test_a_truncated_header_is_refused(self, files):
        with pytest.raises(LoraFileError, match="ends inside its safetensors header"):
            check(files[(Z_IMAGE_TURBO, 1)][:200])

    def test_truncated_weights_are_refused(self, files):
        with pytest.raises(LoraFileError, match="truncated"):
            check(files[(Z_IMAGE_TURBO, 1)][:-100])

    def test_a_huge_header_length_is_refused_without_reading_it(self):
        with pytest.raises(LoraFileError, match="header claims 1099511627776 bytes"):
            check(struct.pack("<Q", 2**40) + b"{}")

    def test_a_header_that_is_not_json_is_refused(self):
        with pytest.raises(LoraFileError, match="not valid JSON"):
            check(struct.pack("<Q", 4) + b"\xff\xfe{[")

    def test_offsets_past_the_end_are_refused(self):
        data = header_only({"transformer.x.lora_A.weight": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]}})
        with pytest.raises(LoraFileError, match="lies outside the file"):
            check(data)

    def test_integer_tensors_are_refused(self):
        data = header_only({"x.lora_A.weight": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}}) + bytes(8)
        with pytest.raises(LoraFileError, match="is I64; LoRA weights are floating point"):
            check(data)

    def test_a_file_over_the_size_cap_is_refused(self, files):
        with pytest.raises(LoraFileError, match="a style may be at most 0 MB"):
            check(files[(Z_IMAGE_TURBO, 1)], max_bytes=1000)

    def test_wrong_tensor_names_are_refused(self):
        data = save_bytes({"transformer.layers.0.attention.to_nowhere.lora_A.weight": torch.zeros(4, 32)})
        with pytest.raises(LoraFileError, match="to_nowhere is not a layer of Z-Image-Turbo"):
            check(data)

    def test_names_of_no_model_are_refused(self):
        with pytest.raises(LoraFileError):
            check(save_bytes({"encoder.weight": torch.zeros(4, 4)}))

    def test_wrong_shapes_are_refused_naming_the_layer(self, files):
        from safetensors.torch import load

        tensors = load(files[(Z_IMAGE_TURBO, 1)])
        key = next(k for k in tensors if k.endswith("to_q.lora_A.weight"))
        tensors[key] = torch.zeros(4, 48)  # the tiny transformer's layer takes 32
        with pytest.raises(LoraFileError, match=r"to_q has LoRA shapes \(4, 48\) and \(32, 4\), but .* takes 32"):
            check(save_bytes(tensors))

    def test_half_a_pair_is_refused(self, files):
        from safetensors.torch import load

        tensors = {k: v for k, v in load(files[(SDXL, 1)]).items() if ".lora_B." not in k}
        with pytest.raises(LoraFileError, match="only half of its LoRA pair"):
            check(save_bytes(tensors), SDXL)

    def test_the_file_is_left_at_its_start(self, files):
        file = io.BytesIO(files[(Z_IMAGE_TURBO, 1)])
        check_lora_file(file, base_model=Z_IMAGE_TURBO, max_bytes=MAX_BYTES)
        assert file.tell() == 0

    def test_the_published_architecture_refuses_a_tiny_lora(self, files, settings):
        """A deployment on the real models checks against their published layers (meta device, no weights)."""
        settings.DIFFUSION_BACKEND = "diffusers"
        with pytest.raises(LoraFileError, match=r"has LoRA shapes .* but Z-Image-Turbo's layer takes 3840"):
            check(files[(Z_IMAGE_TURBO, 1)])


def save_bytes(tensors: dict) -> bytes:
    from safetensors.torch import save

    return save({key: value.contiguous() for key, value in tensors.items()})


@pytest.mark.parametrize("model", MODELS)
class TestApplyStyles:
    def test_a_style_at_weight_one_changes_the_image_and_at_zero_draws_the_base(self, backend, files, tmp_path, model):
        base = draw(backend, model)
        linen = style(tmp_path, files[(model, 1)])
        assert np.abs(draw(backend, model, linen) - base).mean() > 0.5
        assert (draw(backend, model, replace(linen, weight=0.0)) == base).all()

    def test_two_styles_combine_into_an_image_unlike_either_alone(self, backend, files, tmp_path, model):
        first, second = style(tmp_path, files[(model, 1)]), style(tmp_path, files[(model, 3)])
        alone = [draw(backend, model, first), draw(backend, model, second)]
        both = draw(backend, model, first, second)
        assert all(np.abs(both - one).mean() > 0.5 for one in alone)

    def test_a_request_without_styles_after_styled_ones_draws_exactly_the_base_image(
        self, backend, files, tmp_path, model
    ):
        fresh = DiffusersBackend("tiny", "cpu", factory=tiny_factory)  # never had an adapter
        styles = [style(tmp_path, files[(model, seed)]) for seed in (1, 2)]
        styled = draw(backend, model, *styles)
        assert (draw(backend, model) == draw(fresh, model)).all()
        assert (draw(backend, model, *styles) == styled).all()  # switched back on: the same styled image

    def test_a_cached_style_not_asked_for_has_no_effect(self, backend, files, tmp_path, model):
        """Style 2 (on SDXL it adapts the text encoder too) stays loaded while a request asks for style 1 only."""
        first, second = style(tmp_path, files[(model, 1)]), style(tmp_path, files[(model, 2)])
        draw(backend, model, second)
        fresh = DiffusersBackend("tiny", "cpu", factory=tiny_factory)
        assert (draw(backend, model, first) == draw(fresh, model, first)).all()
        assert len(backend.styles.cached()) == 2


class TestCache:
    def test_a_style_loads_once_and_is_named_by_its_content(self, backend, files, tmp_path, caplog):
        caplog.set_level(logging.INFO, logger="generation.engine.diffusion.lora")
        linen = style(tmp_path, files[(Z_IMAGE_TURBO, 1)])
        draw(backend, Z_IMAGE_TURBO, linen)
        draw(backend, Z_IMAGE_TURBO, replace(linen, name="Renamed", weight=0.5))
        assert [r.message for r in caplog.records].count("style loaded") == 1
        assert backend.styles.cached() == [(Z_IMAGE_TURBO, adapter_name(linen.sha256))]

    def test_past_the_count_the_least_recently_used_style_is_deleted(self, settings, files, tmp_path):
        settings.STYLE_CACHE_MAX_ADAPTERS = 2
        backend = DiffusersBackend("tiny", "cpu", factory=tiny_factory)
        one, two, three = (style(tmp_path, files[(Z_IMAGE_TURBO, seed)]) for seed in (1, 2, 3))
        for used in (one, two, one, three):
            draw(backend, Z_IMAGE_TURBO, used)
        names = [adapter_name(s.sha256) for s in (one, three)]
        assert backend.styles.cached() == [(Z_IMAGE_TURBO, name) for name in names]
        pipeline = backend.pool.get(Z_IMAGE_TURBO).pipeline
        assert sorted(pipeline.get_list_adapters()["transformer"]) == sorted(names)  # two's layers deleted

    def test_past_the_size_the_least_recently_used_style_is_deleted(self, settings, files, tmp_path):
        backend = DiffusersBackend("tiny", "cpu", factory=tiny_factory)
        one, two = style(tmp_path, files[(Z_IMAGE_TURBO, 1)]), style(tmp_path, files[(Z_IMAGE_TURBO, 2)])
        draw(backend, Z_IMAGE_TURBO, one)
        per_adapter = backend.styles.used_bytes
        assert per_adapter > 0
        backend.styles.max_bytes = per_adapter  # room for one
        draw(backend, Z_IMAGE_TURBO, two)
        assert backend.styles.cached() == [(Z_IMAGE_TURBO, adapter_name(two.sha256))]
        assert backend.styles.used_bytes == per_adapter

    def test_a_jobs_styles_stay_loaded_for_it_even_past_the_limits(self, settings, files, tmp_path):
        settings.STYLE_CACHE_MAX_ADAPTERS = 1
        backend = DiffusersBackend("tiny", "cpu", factory=tiny_factory)
        both = [style(tmp_path, files[(Z_IMAGE_TURBO, seed)]) for seed in (1, 2)]
        together = draw(backend, Z_IMAGE_TURBO, *both)
        assert len(backend.styles.cached()) == 2 and np.abs(together - draw(backend, Z_IMAGE_TURBO)).max() > 0

    def test_the_adapters_weights_count_in_the_models_pool_size(self, backend, files, tmp_path):
        draw(backend, Z_IMAGE_TURBO)
        before = backend.pool.get(Z_IMAGE_TURBO).bytes
        draw(backend, Z_IMAGE_TURBO, style(tmp_path, files[(Z_IMAGE_TURBO, 1)]))
        assert backend.pool.get(Z_IMAGE_TURBO).bytes == before + backend.styles.used_bytes

    def test_releasing_a_model_forgets_its_adapters(self, backend, files, tmp_path):
        draw(backend, SDXL, style(tmp_path, files[(SDXL, 1)]))
        assert backend.pool.release(SDXL)
        assert backend.styles.cached() == [] and backend.styles.used_bytes == 0


class TestFailures:
    def test_a_corrupt_file_fails_the_request_clearly_and_the_model_still_draws(self, backend, files, tmp_path):
        base = draw(backend, Z_IMAGE_TURBO)
        broken = style(tmp_path, files[(Z_IMAGE_TURBO, 1)][:-64], name="Broken")
        with pytest.raises(StyleUnavailable, match=r"Style 'Broken' cannot be used with Z-Image-Turbo: .*truncated"):
            draw(backend, Z_IMAGE_TURBO, broken)
        assert backend.styles.cached() == [] and (draw(backend, Z_IMAGE_TURBO) == base).all()

    def test_the_other_base_models_file_fails_the_request(self, backend, files, tmp_path):
        with pytest.raises(StyleUnavailable, match="made for Stable Diffusion XL, not Z-Image-Turbo"):
            draw(backend, Z_IMAGE_TURBO, style(tmp_path, files[(SDXL, 1)]))

    def test_a_missing_file_fails_the_request(self, backend, tmp_path):
        gone = LoraStyle(path=str(tmp_path / "gone.safetensors"), sha256="0" * 64, weight=1.0, name="Gone")
        with pytest.raises(StyleUnavailable, match="Style 'Gone' is not readable on the worker"):
            draw(backend, Z_IMAGE_TURBO, gone)

    def test_a_file_that_passes_the_header_but_not_peft_leaves_no_adapter_behind(self, backend, files, tmp_path):
        """NaN-free but unloadable: a header that fits while the stored metadata asks peft for a rank of 0."""
        from safetensors.torch import load

        tensors = load(files[(Z_IMAGE_TURBO, 1)])
        config = {"transformer.r": 0, "transformer.lora_alpha": 0, "transformer.target_modules": ["to_q"]}
        data = save_with_metadata(tensors, config)
        base = draw(backend, Z_IMAGE_TURBO)
        with pytest.raises(StyleUnavailable, match="could not be loaded"):
            draw(backend, Z_IMAGE_TURBO, style(tmp_path, data, name="Odd"))
        assert backend.styles.cached() == [] and (draw(backend, Z_IMAGE_TURBO) == base).all()


def save_with_metadata(tensors: dict, adapter_metadata: dict) -> bytes:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "lora.safetensors"
        metadata = {"format": "pt", "lora_adapter_metadata": json.dumps(adapter_metadata)}
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=metadata)
        return path.read_bytes()
