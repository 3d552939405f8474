"""Masks, paste-back, the outpaint canvas, upscale tiles and the step count: plain PIL and numpy."""

import itertools

import numpy as np
import pytest
from PIL import Image

from generation.engine.image_ops import (
    MaskShapeMismatch,
    blend_tiles,
    denoising_steps,
    enlarge,
    fit_mask,
    outpaint_canvas,
    paste_back,
    place_box,
    steps_from_strength,
    tile_boxes,
)
from generation.engine.models_catalog import SDXL, Z_IMAGE_TURBO

from .conftest import job_input, photo


def pixels(image):
    return np.asarray(image, dtype=np.int16)


def test_a_mask_of_the_sources_aspect_is_scaled_to_it_and_made_binary():
    mask = Image.new("L", (100, 75), 0)
    mask.paste(200, (50, 0, 100, 75))  # the right half, grey enough to repaint
    fitted = fit_mask(mask, (400, 300))
    assert (fitted.mode, fitted.size) == ("L", (400, 300))
    values = pixels(fitted)
    assert set(np.unique(values)) == {0, 255}
    assert (values[:, :195] == 0).all() and (values[:, 205:] == 255).all()


def test_a_mask_within_one_percent_of_the_aspect_is_accepted_and_beyond_it_refused():
    assert fit_mask(Image.new("L", (1005, 1000)), (800, 800)).size == (800, 800)
    with pytest.raises(MaskShapeMismatch, match="1016x1000 but the image is 800x800"):
        fit_mask(Image.new("L", (1016, 1000)), (800, 800))


def test_a_transparent_mask_keeps_its_unpainted_pixels():
    mask = Image.new("RGBA", (64, 64), (255, 255, 255, 0))  # painter's untouched area: transparent
    mask.paste((255, 255, 255, 255), (0, 0, 32, 64))
    values = pixels(fit_mask(mask, (64, 64)))
    assert (values[:, :32] == 255).all() and (values[:, 32:] == 0).all()


def test_paste_back_keeps_every_pixel_outside_the_mask_and_feathers_only_inside_it():
    source, generated = photo(128, 96, seed=1), photo(128, 96, seed=2)
    mask = Image.new("L", (128, 96), 0)
    mask.paste(255, (32, 24, 96, 72))
    out, keep = pixels(paste_back(generated, source, mask, feather=8)), pixels(mask) == 0
    assert (out[keep] == pixels(source)[keep]).all()
    assert (out[24:32, 40:88] != pixels(generated)[24:32, 40:88]).any()  # the band, rows 24-31, blends
    assert (out[32:64, 40:88] == pixels(generated)[32:64, 40:88]).all()  # 8 px in: the generated pixels alone


def test_a_mask_reaching_the_frame_is_not_feathered_along_the_frame():
    source, generated = photo(64, 64, seed=1), photo(64, 64, seed=2)
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 64, 32))  # the top half, touching three sides of the frame
    out = pixels(paste_back(generated, source, mask, feather=4))
    assert (out[0:24, :] == pixels(generated)[0:24, :]).all()


@pytest.mark.parametrize(
    ("anchor", "box"),
    [
        ("center", (64, 0, 192, 128)),
        ("left", (0, 0, 128, 128)),
        ("right", (128, 0, 256, 128)),
        ("top", (64, 0, 192, 128)),
        ("bottom", (64, 0, 192, 128)),
    ],
)
def test_outpaint_places_the_source_at_its_own_size_by_the_anchor(anchor, box):
    source = photo(128, 128)
    canvas, mask, placed = outpaint_canvas(source, 256, 128, anchor)
    assert placed == box and canvas.size == mask.size == (256, 128)
    assert (pixels(canvas.crop(box)) == pixels(source)).all()
    values = pixels(mask)
    assert (values[:, box[0] : box[2]] == 0).all() and values.sum() == 255 * 128 * 128


def test_outpaint_fills_the_new_area_from_the_sources_edge_colours():
    source = Image.new("RGB", (64, 64), (200, 30, 30))
    canvas, _, _ = outpaint_canvas(source, 128, 64, "left")
    assert (np.abs(pixels(canvas)[:, 64:] - (200, 30, 30)) <= 1).all()


def test_a_source_larger_than_the_canvas_is_scaled_down_to_fit():
    assert place_box((400, 200), 300, 300, "top") == (0, 0, 300, 150)
    assert place_box((100, 100), 300, 300, "bottom") == (100, 200, 200, 300)


def test_enlarge_is_exactly_factor_times_the_source():
    assert enlarge(photo(77, 51), 4).size == (308, 204)


def test_tiles_cover_the_image_overlapping_by_at_least_the_overlap_within_the_tile_size():
    boxes = tile_boxes(2200, 1000, tile=1024, overlap=128)
    covered = np.zeros((1000, 2200), dtype=bool)
    for left, top, right, bottom in boxes:
        assert right - left <= 1024 and bottom - top <= 1024
        covered[top:bottom, left:right] = True
    assert covered.all() and len(boxes) == 3
    lefts = sorted({box[0] for box in boxes})
    assert all(previous + 1024 - following >= 128 for previous, following in itertools.pairwise(lefts))


def largest_column_jump(image):
    columns = pixels(image).mean(axis=(0, 2))
    return np.abs(np.diff(columns)).max()


def test_blended_tiles_cross_fade_where_hard_pasted_ones_show_a_seam():
    """Two flat tiles 100 grey levels apart: pasted, one column jumps by 100; blended, the step spreads over the
    32 px they share."""
    boxes = tile_boxes(224, 128, tile=128, overlap=32)
    tiles = [(box, Image.new("RGB", (box[2] - box[0], 128), (60 + 100 * n,) * 3)) for n, box in enumerate(boxes)]
    pasted = Image.new("RGB", (224, 128))
    for box, tile in tiles:
        pasted.paste(tile, box[:2])
    assert largest_column_jump(pasted) == 100
    assert largest_column_jump(blend_tiles((224, 128), tiles)) <= 100 / 32 + 1  # spread over the overlap


def test_blending_identical_tiles_gives_back_the_image():
    image = photo(300, 200)
    boxes = tile_boxes(300, 200, tile=128, overlap=32)
    assert (pixels(blend_tiles(image.size, [(box, image.crop(box)) for box in boxes])) == pixels(image)).all()


@pytest.mark.parametrize(
    ("model", "steps", "strength", "expected"),
    [
        (Z_IMAGE_TURBO, 10, 0.6, 6),
        (Z_IMAGE_TURBO, 3, 0.7, 3),  # 3 - int(3 - 2.1): Z-Image keeps the fraction
        (SDXL, 3, 0.7, 2),  # int(2.1): SDXL truncates
        (SDXL, 10, 0.05, 1),  # int(0.5) = 0: raised to one step
        (Z_IMAGE_TURBO, 9, 1.0, 9),
    ],
)
def test_steps_from_strength_counts_as_each_pipeline_does(model, steps, strength, expected):
    assert steps_from_strength(steps, strength, model=model) == expected


def test_denoising_steps_count_every_image_and_every_tile():
    assert denoising_steps(job_input(steps=4, num_images=3)) == 12
    assert denoising_steps(job_input(mode="image", strength=0.5, steps=8, num_images=2)) == 8
    assert denoising_steps(job_input(mode="outpaint", strength=0.3, steps=5)) == 5  # outpaint denoises fully
    upscale = job_input(mode="upscale", upscale_factor=2, strength=0.5, steps=4, width=2048, height=1536)
    assert denoising_steps(upscale) == 3 * 2 * 2  # 3x2 tiles of 1024 overlapping by 128, 2 steps each
