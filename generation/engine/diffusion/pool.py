"""The models a worker keeps loaded, within a memory budget: loaded on demand, the least recently used released.

A pool entry is one model: its text-to-image pipeline and the pipelines derived from it (img2img, inpaint:
`from_pipe`, the same modules). Releasing a model drops the entry, so the derived pipelines go with it and
nothing keeps its weights alive. Before a model is loaded, the pool releases the least recently used others
until the model's expected size fits the budget (measured on a previous load, else the real model's size
from its published configuration), so two models never sit on a card that holds one. With model CPU offload
(diffusers `enable_model_cpu_offload`, for small cards) the weights stay in host memory and only the
component running at the moment is on the device: the pool charges that model its largest component.

Sizes are bytes of parameters and buffers: activations, the CUDA context and the allocator's cache come on
top, which is what `DIFFUSION_VRAM_RESERVE_GB` leaves free when the budget is automatic.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

logger = logging.getLogger(__name__)

GIB = 2**30

# Bytes of each real model's components at its serving dtype (Z-Image-Turbo bf16, SDXL fp16): parameters and
# buffers counted on the meta device from the published configurations (random_weights.component_bytes;
# tests/generation/test_pool.py checks these against it).
REAL_COMPONENT_BYTES: dict[str, dict[str, int]] = {
    "Tongyi-MAI/Z-Image-Turbo": {"transformer": 12_309_817_472, "text_encoder": 8_044_936_448, "vae": 167_639_366},
    "stabilityai/stable-diffusion-xl-base-1.0": {
        "unet": 5_134_927_368,
        "text_encoder": 246_121_576,
        "text_encoder_2": 1_389_320_296,
        "vae": 167_307_726,
    },
}


def expected_bytes(components: Mapping[str, int], *, offload: bool) -> int:
    """What a model holds on the device: all of it, or with CPU offload its largest component at a time."""
    if not components:
        return 0
    return max(components.values()) if offload else sum(components.values())


def pipeline_component_bytes(pipeline: Any) -> dict[str, int]:
    """Bytes of each torch module of a pipeline (a module shared by two components counted once)."""
    seen: set[int] = set()
    sizes: dict[str, int] = {}
    for name, component in pipeline.components.items():
        if not isinstance(component, torch.nn.Module):
            continue
        tensors = [t for t in (*component.parameters(), *component.buffers()) if id(t) not in seen]
        seen.update(id(t) for t in tensors)
        sizes[name] = sum(t.numel() * t.element_size() for t in tensors)
    return sizes


@dataclass
class PoolEntry:
    model: str
    pipeline: Any
    # mode -> the pipeline derived from `pipeline` for it (img2img, inpaint), sharing its modules
    variants: dict[str, Any] = field(default_factory=dict)
    # SDXL's IP-Adapter loaded into `pipeline` (ip_adapter.LoadedAdapter), once, on the first job with a reference
    ip_adapter: Any = None
    components: dict[str, int] = field(default_factory=dict)
    offloaded: bool = False
    loaded_at: float = field(default_factory=time.time)

    @property
    def bytes(self) -> int:
        return expected_bytes(self.components, offload=self.offloaded)


class ModelPool:
    """Pipelines by model, least recently used first; `get` loads, `release` drops (with the derived ones)."""

    def __init__(
        self,
        *,
        load: Callable[[str], Any],
        device: str,
        budget_bytes: int | None = None,
        offload: bool = False,
        known_sizes: Mapping[str, Mapping[str, int]] | None = None,
        prepare: Callable[[Any], None] | None = None,
        on_release: Callable[[str], None] | None = None,
    ) -> None:
        self.device = device
        self.budget_bytes = budget_bytes
        self.offload = offload  # on a CPU device the hooks run but move nothing: how tests exercise them
        self._load = load
        self._prepare = prepare
        self._on_release = on_release
        self._sizes: dict[str, dict[str, int]] = {model: dict(sizes) for model, sizes in (known_sizes or {}).items()}
        self._entries: OrderedDict[str, PoolEntry] = OrderedDict()
        self._lock = threading.Lock()  # the heartbeat thread reads `resident()` while jobs load and release
        global _current
        _current = self

    def __contains__(self, model: str) -> bool:
        return model in self._entries

    @property
    def used_bytes(self) -> int:
        return sum(entry.bytes for entry in list(self._entries.values()))

    def get(self, model: str) -> PoolEntry:
        """The model's entry, loaded first if it is not resident; it becomes the most recently used."""
        entry = self._entries.get(model)
        if entry is not None:
            with self._lock:
                self._entries.move_to_end(model)
            return entry
        self._make_room(expected_bytes(self._sizes.get(model, {}), offload=self.offload), keep=model)
        started = time.perf_counter()
        pipeline = self._load(model)
        components = pipeline_component_bytes(pipeline)
        self._place(pipeline)
        if self._prepare is not None:
            self._prepare(pipeline)
        entry = PoolEntry(model=model, pipeline=pipeline, components=components, offloaded=self.offload)
        self._sizes[model] = components
        with self._lock:
            self._entries[model] = entry
        # The estimate can be wrong (a first load of a model of unknown size): correct it now.
        self._make_room(0, keep=model)
        logger.info(
            "model loaded",
            extra={
                "model": model,
                "device": self.device,
                "bytes": entry.bytes,
                "offloaded": entry.offloaded,
                "seconds": round(time.perf_counter() - started, 2),
                "resident": list(self._entries),
            },
        )
        return entry

    def grow(self, model: str, load: Callable[[Any], Any]) -> Any:
        """Load something more into a resident model's pipeline (an IP-Adapter's modules): placed as the model is
        (offload hooks again, for the new modules too), counted in its entry's bytes, released with it."""
        entry = self.get(model)
        result = load(entry.pipeline)
        self._place(entry.pipeline)
        entry.components = pipeline_component_bytes(entry.pipeline)
        self._make_room(0, keep=model)
        logger.info("model grew", extra={"model": model, "bytes": entry.bytes, "resident": list(self._entries)})
        return result

    def _place(self, pipeline: Any) -> None:
        if self.offload:
            pipeline.enable_model_cpu_offload(device=self.device)
        else:
            pipeline.to(self.device)

    def _make_room(self, needed: int, *, keep: str) -> None:
        """Release least recently used models (never `keep`) until `needed` more bytes fit the budget."""
        if self.budget_bytes is None:
            return
        while self.used_bytes + needed > self.budget_bytes:
            victim = next((model for model in self._entries if model != keep), None)
            if victim is None:
                if needed + self.used_bytes > self.budget_bytes:
                    logger.warning(
                        "model larger than the memory budget, loaded alone",
                        extra={"model": keep, "bytes": needed + self.used_bytes, "budget": self.budget_bytes},
                    )
                return
            self.release(victim)

    def release(self, model: str) -> bool:
        """Drop a model, its derived pipelines with it, and give its memory back. False if it was not loaded."""
        with self._lock:
            entry = self._entries.pop(model, None)
        if entry is None:
            return False
        if self._on_release is not None:
            self._on_release(model)
        freed = entry.bytes
        entry.variants.clear()
        entry.ip_adapter = None
        del entry
        gc.collect()
        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()
        logger.info("model released", extra={"model": model, "bytes": freed, "resident": list(self._entries)})
        return True

    def resident(self) -> list[dict[str, Any]]:
        """The loaded models, least recently used first: what the heartbeat and /metrics show."""
        with self._lock:
            entries = list(self._entries.values())
        return [{"model": e.model, "bytes": e.bytes, "offloaded": e.offloaded} for e in entries]


_current: ModelPool | None = None


def resident_models() -> list[dict[str, Any]] | None:
    """The process's pool's residency (the last pool built here), None before any."""
    return None if _current is None else _current.resident()


def budget_from_settings(device: str) -> int | None:
    """DIFFUSION_VRAM_BUDGET_GB; 0 means the card's memory less DIFFUSION_VRAM_RESERVE_GB (no limit on CPU)."""
    from django.conf import settings

    budget = float(settings.DIFFUSION_VRAM_BUDGET_GB)
    if budget > 0:
        return int(budget * GIB)
    if device.startswith("cuda") and torch.cuda.is_available():
        total = torch.cuda.get_device_properties(torch.device(device)).total_memory
        return max(0, int(total) - int(float(settings.DIFFUSION_VRAM_RESERVE_GB) * GIB))
    return None
