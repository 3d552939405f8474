"""Live preview thumbnails decoded from latents with a fixed linear latent-to-RGB map, not the VAE.

A 16x3 (Flux/Z-Image VAE, 16 channels) or 4x3 (SDXL, 4 channels) matrix plus a bias turns each latent
pixel into an approximate colour: a few milliseconds on the CPU for a 1024 px image, map and WebP
encoding together, against a full VAE decode per step. Worker processes only; numpy is imported inside
the functions (and torch never) so that importing this module pulls nothing heavy into the web process.
"""

from __future__ import annotations

import base64
import io
import logging
from typing import Any

logger = logging.getLogger(__name__)

PREVIEW_MAX_SIDE = 128
PREVIEW_QUALITY = 60

# Coefficients fitted for these latent spaces as published in ComfyUI's latent_formats.py (Flux, SDXL);
# they apply to the scaled latents the sampler works on, which is what the step callback receives.
LATENT_RGB_FACTORS: dict[int, tuple[tuple[tuple[float, float, float], ...], tuple[float, float, float]]] = {
    16: (
        (
            (-0.0346, 0.0244, 0.0681),
            (0.0034, 0.0210, 0.0687),
            (0.0275, -0.0668, -0.0433),
            (-0.0174, 0.0160, 0.0617),
            (0.0859, 0.0721, 0.0329),
            (0.0004, 0.0383, 0.0115),
            (0.0405, 0.0861, 0.0915),
            (-0.0236, -0.0185, -0.0259),
            (-0.0245, 0.0250, 0.1180),
            (0.1008, 0.0755, -0.0421),
            (-0.0515, 0.0201, 0.0011),
            (0.0428, -0.0012, -0.0036),
            (0.0817, 0.0765, 0.0749),
            (-0.1264, -0.0522, -0.1103),
            (-0.0280, -0.0881, -0.0499),
            (-0.1262, -0.0982, -0.0778),
        ),
        (-0.0329, -0.0718, -0.0851),
    ),
    4: (
        (
            (0.3651, 0.4232, 0.4341),
            (-0.2533, -0.0042, 0.1068),
            (0.1076, 0.1111, -0.0362),
            (-0.3165, -0.2492, -0.2188),
        ),
        (0.1084, -0.0175, -0.0011),
    ),
}


def latents_to_rgb(latents: Any) -> Any:
    """(C, H, W) or (1, C, H, W) latents -> (H, W, 3) uint8 numpy array; the first image of a batch.

    In numpy on one thread: for a map this small, torch's thread pool costs more than the arithmetic.
    """
    import numpy as np

    if hasattr(latents, "detach"):  # a torch tensor, maybe bfloat16 or on the GPU
        latents = latents.detach().float().cpu().numpy()
    array = np.asarray(latents, dtype=np.float32)
    if array.ndim == 4:
        array = array[0]
    if array.ndim != 3:
        raise ValueError(f"Expected (C, H, W) latents, got shape {array.shape}.")
    channels = array.shape[0]
    if channels not in LATENT_RGB_FACTORS:
        raise ValueError(f"No latent-to-RGB map for {channels}-channel latents.")
    factors, bias = LATENT_RGB_FACTORS[channels]
    rgb = np.tensordot(array, np.asarray(factors, dtype=np.float32), axes=([0], [0]))
    rgb += np.asarray(bias, dtype=np.float32)
    # The map lands roughly in [-1, 1], like the VAE's output.
    return np.rint((np.clip(rgb, -1, 1) + 1) * 127.5).astype(np.uint8)


def encode_preview(
    rgb: Any, *, max_side: int = PREVIEW_MAX_SIDE, image_format: str = "WEBP", quality: int = PREVIEW_QUALITY
) -> str:
    """A data URL (`data:image/webp;base64,...`) no larger than max_side on its longest side."""
    from PIL import Image

    image = rgb.convert("RGB") if isinstance(rgb, Image.Image) else Image.fromarray(rgb)
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    # A preview lives for one step: the fastest WebP method (JPEG ignores it).
    image.save(buffer, format=image_format, quality=quality, method=0)
    mime = "image/webp" if image_format.upper() == "WEBP" else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def preview_from_latents(latents: Any, *, max_side: int = PREVIEW_MAX_SIDE) -> str | None:
    """The preview to send with a progress event, or None when these latents cannot give one.

    Never raises: a preview is decoration, and a failure here must not fail the job.
    """
    if latents is None:
        return None
    try:
        return encode_preview(latents_to_rgb(latents), max_side=max_side)
    except Exception:
        logger.warning("could not draw a live preview", exc_info=True)
        return None
