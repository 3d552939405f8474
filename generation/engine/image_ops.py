"""Image operations around the diffusion call, for jobs that start from the customer's image. No torch here.

Masks are fitted to their source (or refused), inpainted pixels are pasted back so everything outside the mask is
the source's own, the outpaint canvas places the source and pre-fills the new area, and an upscale enlarges with
Lanczos then refines in overlapping tiles blended with ramped weights. `denoising_steps` counts a job's step
callbacks exactly as the pipelines make them, so submit stores the progress total the bar ends on. Pure PIL and
numpy: `fit_mask` runs in the web process at submit.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageFilter

from .job_input import IP_ADAPTER, JobInput, JobMode
from .models_catalog import SDXL

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

# A mask is scaled to its source when their aspect ratios differ by at most this share; otherwise refused.
MASK_ASPECT_TOLERANCE = 0.01
MASK_THRESHOLD = 128  # after scaling, a mask pixel at or above this repaints
# Inpainted pixels within this many px of the mask's edge blend into the source (inside the mask only).
PASTE_FEATHER = 8
# Upscale refinement tiles: within what both models draw well, overlapping so their blend hides the seams.
UPSCALE_TILE = 1024
UPSCALE_TILE_OVERLAP = 128
OUTPAINT_ANCHORS = ("center", "left", "right", "top", "bottom")

Box = tuple[int, int, int, int]  # left, top, right, bottom (PIL's crop box)


class MaskShapeMismatch(ValueError):
    """The mask's aspect ratio is not the source's: scaling it would move the region the customer painted."""


def mask_fits(mask_size: tuple[int, int], size: tuple[int, int]) -> bool:
    """Whether a mask of `mask_size` may be scaled onto an image of `size`: aspect ratios within 1 %."""
    source_ratio = size[0] / size[1]
    return abs(mask_size[0] / mask_size[1] - source_ratio) <= MASK_ASPECT_TOLERANCE * source_ratio


def fit_mask(mask: PILImage, size: tuple[int, int]) -> PILImage:
    """The mask at `size` as a binary "L" image (255 = repaint).

    Rule: a mask whose aspect ratio is within 1 % of the source's is resized to the source's size (bilinear) and
    thresholded at 128; any other mask raises MaskShapeMismatch. A mask with transparency counts its transparent
    pixels as "keep" (the website's painter leaves unpainted pixels transparent).
    """
    width, height = size
    mask_width, mask_height = mask.size
    if not mask_fits(mask.size, size):
        raise MaskShapeMismatch(
            f"The mask is {mask_width}x{mask_height} but the image is {width}x{height}: their aspect ratios differ "
            f"by more than {MASK_ASPECT_TOLERANCE:.0%}, so the mask cannot be scaled onto the image."
        )
    if mask.mode in ("RGBA", "LA", "PA") or (mask.mode == "P" and "transparency" in mask.info):
        rgba = mask.convert("RGBA")
        flattened = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        flattened.alpha_composite(rgba)
        mask = flattened
    grey = mask.convert("L")
    if grey.size != (width, height):
        grey = grey.resize((width, height), Image.Resampling.BILINEAR)
    return grey.point(lambda value: 255 if value >= MASK_THRESHOLD else 0)


def feather_weights(mask: PILImage, feather: int) -> Any:
    """Per-pixel weight of the generated image (float32 array): 0 outside the mask, rising inside it from 1/(N+1)
    at its edge to 1 at N px from any kept pixel (chessboard distance, by repeated 3x3 erosions)."""
    import numpy as np

    binary = mask.convert("L").point(lambda value: 255 if value >= MASK_THRESHOLD else 0)
    weights = np.asarray(binary, dtype=np.float32) / 255.0
    if feather <= 0:
        return weights
    survived = np.zeros_like(weights)
    eroded = binary
    for _ in range(feather):
        eroded = eroded.filter(ImageFilter.MinFilter(3))
        survived += np.asarray(eroded, dtype=np.float32) / 255.0
    inside = weights > 0
    weights[inside] = (survived[inside] + 1.0) / (feather + 1.0)
    return np.clip(weights, 0.0, 1.0)


def paste_back(generated: PILImage, source: PILImage, mask: PILImage, *, feather: int = PASTE_FEATHER) -> PILImage:
    """The generated image inside the mask, the source's exact pixels everywhere outside it.

    The feather band is on the masked side only: within `feather` px of the mask's edge the generated pixels blend
    linearly into the source, so no pixel outside the mask changes at all.
    """
    import numpy as np

    if generated.size != source.size or mask.size != source.size:
        sizes = f"generated {generated.size}, source {source.size}, mask {mask.size}"
        raise ValueError(f"paste_back needs one size: {sizes}")
    # Replicate the mask past the image's border, so its edge with the frame is not feathered.
    padded_array = np.pad(np.asarray(mask.convert("L")), feather, mode="edge")
    padded = Image.fromarray(padded_array)
    weights = feather_weights(padded, feather)[feather : feather + source.height, feather : feather + source.width]
    kept = np.asarray(source.convert("RGB"), dtype=np.float32)
    drawn = np.asarray(generated.convert("RGB"), dtype=np.float32)
    blended = kept + (drawn - kept) * weights[..., None]
    out = np.where(weights[..., None] > 0, np.rint(blended), kept).astype(np.uint8)
    return Image.fromarray(out, "RGB")


def place_box(source_size: tuple[int, int], width: int, height: int, anchor: str) -> Box:
    """Where the source goes on a width x height canvas: at its own size, scaled down (aspect kept) only when a side
    is larger than the canvas's; centred across the anchor's axis, against the anchor's edge along it."""
    if anchor not in OUTPAINT_ANCHORS:
        raise ValueError(f"Unknown outpaint anchor {anchor!r} (known: {', '.join(OUTPAINT_ANCHORS)}).")
    source_width, source_height = source_size
    scale = min(1.0, width / source_width, height / source_height)
    placed_width = max(1, min(width, round(source_width * scale)))
    placed_height = max(1, min(height, round(source_height * scale)))
    left = {"left": 0, "right": width - placed_width}.get(anchor, (width - placed_width) // 2)
    top = {"top": 0, "bottom": height - placed_height}.get(anchor, (height - placed_height) // 2)
    return left, top, left + placed_width, top + placed_height


def outpaint_canvas(source: PILImage, width: int, height: int, anchor: str) -> tuple[PILImage, PILImage, Box]:
    """(canvas, mask, box): the source placed on a width x height canvas (place_box), the new area white in the mask
    and pre-filled as Fooocus and A1111 do: each new pixel takes its nearest source pixel's colour (edge
    extension), blurred so the model gets the colours as context but no hard streaks."""
    import numpy as np

    box = place_box(source.size, width, height, anchor)
    left, top, right, bottom = box
    placed = source.convert("RGB")
    if placed.size != (right - left, bottom - top):
        placed = placed.resize((right - left, bottom - top), Image.Resampling.LANCZOS)
    pixels = np.asarray(placed)
    rows = np.clip(np.arange(height) - top, 0, placed.height - 1)
    columns = np.clip(np.arange(width) - left, 0, placed.width - 1)
    extended = Image.fromarray(pixels[rows[:, None], columns[None, :]], "RGB")
    blurred = extended.filter(ImageFilter.GaussianBlur(radius=max(4, max(width, height) // 32)))
    mask = Image.new("L", (width, height), 255)
    mask.paste(0, box)
    canvas = Image.composite(blurred, extended, mask)  # white (new area) takes the blurred fill
    canvas.paste(placed, box)
    return canvas, mask, box


def enlarge(source: PILImage, factor: int) -> PILImage:
    """The source at exactly factor x its size, Lanczos-resampled: what the refinement tiles start from."""
    return source.convert("RGB").resize((source.width * factor, source.height * factor), Image.Resampling.LANCZOS)


def tile_starts(side: int, tile: int, overlap: int) -> list[int]:
    """Tile offsets along one side: `tile` long, `overlap` shared with the next, the last one flush with the end."""
    if side <= tile:
        return [0]
    count = math.ceil((side - overlap) / (tile - overlap))
    stride = (side - tile) / (count - 1)  # spread evenly: every overlap is at least `overlap`
    return [round(index * stride) for index in range(count)]


def tile_boxes(width: int, height: int, *, tile: int = UPSCALE_TILE, overlap: int = UPSCALE_TILE_OVERLAP) -> list[Box]:
    """The refinement tiles of a width x height image, row by row."""
    if not 0 <= overlap < tile:
        raise ValueError(f"A tile overlap must be in [0, tile) (got {overlap} for {tile}).")
    return [
        (left, top, min(width, left + tile), min(height, top + tile))
        for top in tile_starts(height, tile, overlap)
        for left in tile_starts(width, tile, overlap)
    ]


def _ramp(length: int, start_ramp: int, end_ramp: int) -> Any:
    import numpy as np

    weights = np.ones(length, dtype=np.float32)
    if start_ramp:
        weights[:start_ramp] = np.minimum(weights[:start_ramp], (np.arange(start_ramp) + 1) / (start_ramp + 1))
    if end_ramp:
        weights[length - end_ramp :] = np.minimum(
            weights[length - end_ramp :], (np.arange(end_ramp, 0, -1)) / (end_ramp + 1)
        )
    return weights


def blend_tiles(size: tuple[int, int], tiles: list[tuple[Box, PILImage]]) -> PILImage:
    """One image from overlapping tiles: each weighs linearly less towards a side it shares with a neighbour (over
    the shared width), so adjacent tiles cross-fade instead of meeting at a seam; weights are normalised per pixel."""
    import numpy as np

    width, height = size
    total = np.zeros((height, width, 3), dtype=np.float32)
    weight_sum = np.zeros((height, width), dtype=np.float32)
    boxes = [box for box, _ in tiles]
    for box, image in tiles:
        left, top, right, bottom = box
        # How far the neighbours reach into this tile on each side (0 on the image's border).
        reach_left = max((b[2] - left for b in boxes if b[0] < left < b[2] and _rows_meet(b, box)), default=0)
        reach_right = max((right - b[0] for b in boxes if b[0] < right < b[2] and _rows_meet(b, box)), default=0)
        reach_top = max((b[3] - top for b in boxes if b[1] < top < b[3] and _columns_meet(b, box)), default=0)
        reach_bottom = max((bottom - b[1] for b in boxes if b[1] < bottom < b[3] and _columns_meet(b, box)), default=0)
        weights = np.outer(
            _ramp(bottom - top, reach_top, reach_bottom), _ramp(right - left, reach_left, reach_right)
        ).astype(np.float32)
        pixels = np.asarray(image.convert("RGB").resize((right - left, bottom - top)), dtype=np.float32)
        total[top:bottom, left:right] += pixels * weights[..., None]
        weight_sum[top:bottom, left:right] += weights
    out = np.rint(total / weight_sum[..., None]).clip(0, 255).astype(np.uint8)
    return Image.fromarray(out, "RGB")


def _rows_meet(a: Box, b: Box) -> bool:
    return a[1] < b[3] and b[1] < a[3]


def _columns_meet(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2]


def steps_from_strength(steps: int, strength: float, *, model: str = "") -> int:
    """The denoising steps an image-to-image or inpaint pipeline runs at `strength`, as its get_timesteps counts
    them (Z-Image keeps a fractional start, SDXL truncates), and at least one: the backend raises SDXL's strength
    to one step's worth when it would run none (pipeline_strength)."""
    if model == SDXL:
        return max(1, min(int(steps * strength), steps))
    start = int(max(steps - min(steps * strength, steps), 0))
    return max(1, steps - start)


def pipeline_strength(steps: int, strength: float, *, model: str) -> float:
    """The strength handed to the pipeline: the job's, unless SDXL would run no step at it (int(steps x strength)
    is 0); then one step's worth, with half a step of margin against float rounding."""
    if model == SDXL and int(steps * strength) < 1:
        return min(1.0, 1.5 / steps)
    return strength


def generation_mode(job: JobInput) -> str:
    """What the generation node draws: an inpaint or outpaint job inpaints (its mask or canvas is the customer's
    request); a job with an IP-Adapter reference draws from text (the reference conditions it); otherwise the
    node's own `mode` parameter when the template sets one, else the job's mode."""
    if job.mode in (JobMode.INPAINT, JobMode.OUTPAINT):
        return JobMode.INPAINT
    if job.reference_method == IP_ADAPTER:  # the reference conditions identity; the picture is drawn from noise
        return JobMode.TEXT
    for node in job.workflow:
        if node.get("node_type") == "generation" and "mode" in node.get("parameters", {}):
            return str(node["parameters"]["mode"])
    return JobMode.IMAGE if job.mode == JobMode.IMAGE else JobMode.TEXT


def upscale_tiling(job: JobInput) -> tuple[int, int]:
    """(tile side, overlap) of the job's upscale node, or the defaults."""
    for node in job.workflow:
        if node.get("node_type") == "upscale":
            parameters = node.get("parameters", {})
            return parameters.get("tile_size", UPSCALE_TILE), parameters.get("tile_overlap", UPSCALE_TILE_OVERLAP)
    return UPSCALE_TILE, UPSCALE_TILE_OVERLAP


def job_strength(job: JobInput, mode: str) -> float:
    """Outpaint draws its new area from noise (1.0); other modes use the job's strength."""
    if job.mode == JobMode.OUTPAINT or mode == JobMode.TEXT:
        return 1.0
    return job.strength


def steps_per_image(job: JobInput) -> int:
    """The step callbacks one of the job's images makes (for an upscale, all its tiles)."""
    if job.mode == JobMode.UPSCALE:
        tile, overlap = upscale_tiling(job)
        tiles = len(tile_boxes(job.width, job.height, tile=tile, overlap=overlap))
        return tiles * steps_from_strength(job.steps, job.strength, model=job.model)
    mode = generation_mode(job)
    if mode == JobMode.TEXT:
        return job.steps
    return steps_from_strength(job.steps, job_strength(job, mode), model=job.model)


def denoising_steps(job: JobInput) -> int:
    """The step callbacks the whole job makes (every image, every tile): the job's exact progress total."""
    return steps_per_image(job) * job.num_images
