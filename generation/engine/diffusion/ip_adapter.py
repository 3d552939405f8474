"""SDXL's IP-Adapter: a scene character's reference image as identity, instead of image-to-image from it.

The weights sit under DIFFUSION_WEIGHTS_DIR in the h94/IP-Adapter repository's own layout, so one
`hf download h94/IP-Adapter --include "sdxl_models/ip-adapter_sdxl.safetensors" "sdxl_models/image_encoder/*"
--local-dir $DIFFUSION_WEIGHTS_DIR/IP-Adapter` fills it:

    IP-Adapter/sdxl_models/ip-adapter_sdxl.safetensors        the adapter (image projection + attention weights)
    IP-Adapter/sdxl_models/image_encoder/config.json          its CLIP image encoder (ViT-bigG)
    IP-Adapter/sdxl_models/image_encoder/model.safetensors

Submit (the web process) asks `installed(model)`: any of these files present for an SDXL job means the operator
installed the adapter, so the job records IP-Adapter; the worker loads it through diffusers' own
`load_ip_adapter` and reports missing or unreadable files as a job error, never silently drawing otherwise.
Nothing here imports torch at import time.

Once loaded into a pool entry's pipeline the adapter stays with it (released with the model). It is switched on
for a job with a reference and off for every other: the UNet gets back its own attention processors and no
image projection, so a job without a reference draws exactly what it would have drawn had no adapter been loaded.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from django.conf import settings

from ..job_input import IP_ADAPTER
from ..models_catalog import SDXL
from . import WeightsUnavailable

logger = logging.getLogger(__name__)

REPOSITORY = "h94/IP-Adapter"
FOLDER = REPOSITORY.split("/")[-1]  # DIFFUSION_WEIGHTS_DIR/<repository name>, as the models' folders
SUBFOLDER = "sdxl_models"
WEIGHT_NAME = "ip-adapter_sdxl.safetensors"
IMAGE_ENCODER_FOLDER = "image_encoder"  # inside SUBFOLDER, as load_ip_adapter's image_encoder_folder reads it
IMAGE_ENCODER_FILES = ("config.json", "model.safetensors")
# The models an IP-Adapter exists for here: Z-Image has none.
SUPPORTED_MODELS = frozenset({SDXL})

__all__ = ["IP_ADAPTER", "LoadedAdapter", "expected_files", "installed", "load", "missing_files", "scale_for"]


def scale_for(strength: float) -> float:
    """The adapter scale for a character's reference_strength (how far from the reference the model may go):
    1 - strength, so the default 0.55 gives 0.45, and 1.0 ignores the reference as image-to-image would."""
    return round(min(1.0, max(0.0, 1.0 - strength)), 4)


def _root() -> Path | None:
    return Path(settings.DIFFUSION_WEIGHTS_DIR) / FOLDER if settings.DIFFUSION_WEIGHTS_DIR else None


def expected_files() -> list[Path]:
    """Every file the adapter needs, in the layout above (empty without DIFFUSION_WEIGHTS_DIR)."""
    root = _root()
    if root is None:
        return []
    encoder = root / SUBFOLDER / IMAGE_ENCODER_FOLDER
    return [root / SUBFOLDER / WEIGHT_NAME, *(encoder / name for name in IMAGE_ENCODER_FILES)]


def missing_files() -> list[Path]:
    return [path for path in expected_files() if not path.is_file()]


def installed(model: str) -> bool:
    """Whether a job on `model` uses IP-Adapter for its reference: an SDXL job, and any of the adapter's files
    there (an incomplete install is the worker's clear error, not a quiet fallback to image-to-image)."""
    return model in SUPPORTED_MODELS and any(path.is_file() for path in expected_files())


def unavailable(reason: str, error: BaseException | None = None) -> WeightsUnavailable:
    """The job error for an adapter that cannot be loaded, in the missing-model-weights message's style."""
    detail = f" ({error})" if error is not None else ""
    return WeightsUnavailable(
        f"IP-Adapter weights for SDXL ({REPOSITORY}) are {reason}. Put {SUBFOLDER}/{WEIGHT_NAME} and "
        f"{SUBFOLDER}/{IMAGE_ENCODER_FOLDER}/ at DIFFUSION_WEIGHTS_DIR/{FOLDER} (`hf download {REPOSITORY} "
        f'--include "{SUBFOLDER}/{WEIGHT_NAME}" "{SUBFOLDER}/{IMAGE_ENCODER_FOLDER}/*" --local-dir '
        f"$DIFFUSION_WEIGHTS_DIR/{FOLDER}`) on a machine with network access, or remove that folder to draw "
        f"character references image-to-image.{detail}"
    )


class LoadedAdapter:
    """The adapter's attention processors and image projection in one UNet, and the UNet's own processors, so a
    job can switch the adapter on (at its scale) or off without loading anything again."""

    def __init__(self, pipeline: Any, plain_processors: dict[str, Any]) -> None:
        self.pipeline = pipeline
        self._unet = pipeline.unet
        self._plain = plain_processors
        self._adapter = dict(self._unet.attn_processors)
        self._projection = self._unet.encoder_hid_proj
        self._hid_dim_type = self._unet.config.encoder_hid_dim_type
        self.active = True

    def enable(self, scale: float) -> None:
        if not self.active:
            self._unet.set_attn_processor(dict(self._adapter))  # it pops what it sets: a copy
            self._unet.encoder_hid_proj = self._projection
            self._unet.config.encoder_hid_dim_type = self._hid_dim_type
            self.active = True
        self.pipeline.set_ip_adapter_scale(scale)

    def disable(self) -> None:
        """As diffusers' unload_ip_adapter leaves the UNet, with the very processor objects it had before."""
        if self.active:
            self._unet.set_attn_processor(dict(self._plain))
            self._unet.encoder_hid_proj = None
            self._unet.config.encoder_hid_dim_type = None
            self.active = False


def load(pipeline: Any) -> LoadedAdapter:
    """Load the adapter into an SDXL pipeline through diffusers' loader (local files only), switched on.

    Raises WeightsUnavailable when a file is missing or unreadable; the caller then drops the pipeline, since a
    load that failed half-way may have changed it."""
    root = _root()
    missing = missing_files()
    if root is None or missing:
        names = ", ".join(str(path) for path in missing) or "DIFFUSION_WEIGHTS_DIR (not set)"
        raise unavailable(f"incomplete on this machine: missing {names}")
    plain = dict(pipeline.unet.attn_processors)
    started = time.perf_counter()
    try:
        pipeline.load_ip_adapter(
            str(root),
            subfolder=SUBFOLDER,
            weight_name=WEIGHT_NAME,
            image_encoder_folder=IMAGE_ENCODER_FOLDER,
            local_files_only=True,
        )
    except Exception as error:  # a truncated file, a foreign state dict, a config that is not CLIP's: all unusable
        raise unavailable("unreadable", error) from error
    logger.info("IP-Adapter loaded", extra={"folder": str(root), "seconds": round(time.perf_counter() - started, 2)})
    return LoadedAdapter(pipeline, plain)
