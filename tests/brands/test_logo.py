"""brands.logo.composite_logo: where the logo lands for each corner, how big, how faded, and alpha-correct edges."""

import pytest
from PIL import Image

from brands.logo import composite_logo, logo_box
from brands.models import LogoCorner

GREY = (128, 128, 128)
RED = (255, 0, 0)


def red_square(side: int = 100, alpha: int = 255) -> Image.Image:
    return Image.new("RGBA", (side, side), (*RED, alpha))


def red_pixels(image: Image.Image) -> tuple[int, int, int, int] | None:
    """The bounding box of the pixels the logo turned red (the base is grey)."""
    mask = image.convert("RGB").point(lambda v: 255 if v > 200 else 0).getchannel("R")
    return mask.getbbox()


@pytest.mark.parametrize(
    ("corner", "box"),
    [
        (LogoCorner.TOP_LEFT, (40, 40, 240, 240)),
        (LogoCorner.TOP_RIGHT, (760, 40, 960, 240)),
        (LogoCorner.BOTTOM_LEFT, (40, 360, 240, 560)),
        (LogoCorner.BOTTOM_RIGHT, (760, 360, 960, 560)),
    ],
)
def test_the_logo_sits_in_its_corner_a_margin_of_the_width_from_both_edges(corner, box):
    image = Image.new("RGB", (1000, 600), GREY)

    result = composite_logo(image, red_square(), corner=corner, margin=0.04, scale=0.2, opacity=1.0)

    assert red_pixels(result) == box  # 200 px wide (0.2 x 1000), 40 px (0.04 x 1000) from both edges
    assert result.getpixel((500, 300)) == GREY
    assert result.mode == "RGB" and result.size == image.size


def test_the_logo_keeps_its_aspect_at_a_share_of_the_width():
    wide_logo = Image.new("RGBA", (300, 100), (*RED, 255))

    left, top, width, height = logo_box((1024, 1024), wide_logo.size, corner=LogoCorner.TOP_LEFT, margin=0, scale=0.3)

    assert (left, top, width, height) == (0, 0, 307, 102)


def test_a_logo_too_tall_for_a_banner_is_shrunk_to_fit_inside_the_margins():
    box = logo_box((820, 312), (100, 100), corner=LogoCorner.BOTTOM_RIGHT, margin=0.02, scale=0.5)

    left, top, width, height = box
    assert width == height == 312 - 2 * 16
    assert (left + width, top + height) == (820 - 16, 312 - 16)


def test_opacity_multiplies_the_logos_alpha():
    image = Image.new("RGB", (400, 400), (0, 0, 0))
    logo = Image.new("RGBA", (100, 100), (255, 255, 255, 255))

    half = composite_logo(image, logo, corner=LogoCorner.TOP_LEFT, margin=0, scale=0.5, opacity=0.5)
    full = composite_logo(image, logo, corner=LogoCorner.TOP_LEFT, margin=0, scale=0.5, opacity=1.0)

    assert full.getpixel((100, 100)) == (255, 255, 255)
    assert half.getpixel((100, 100)) == pytest.approx((128, 128, 128), abs=1)


def test_the_logos_own_transparency_blends_with_the_image():
    image = Image.new("RGB", (400, 400), (0, 0, 255))
    logo = Image.new("RGBA", (100, 100), (255, 0, 0, 64))  # a quarter opaque

    result = composite_logo(image, logo, corner=LogoCorner.TOP_LEFT, margin=0, scale=0.5, opacity=0.5)

    red, _, blue = result.getpixel((100, 100))
    assert red == pytest.approx(255 * 0.125, abs=1.5) and blue == pytest.approx(255 * 0.875, abs=1.5)


def test_transparent_pixels_colour_never_bleeds_into_the_edges():
    """Resized premultiplied: a fully transparent green around a white disc leaves no green fringe."""
    logo = Image.new("RGBA", (64, 64), (0, 255, 0, 0))
    logo.paste((255, 255, 255, 255), (16, 16, 48, 48))
    image = Image.new("RGB", (1000, 1000), (0, 0, 0))

    result = composite_logo(image, logo, corner=LogoCorner.TOP_LEFT, margin=0, scale=0.37, opacity=1.0)

    pixels = [result.getpixel((x, y)) for x in range(0, 370) for y in (185,)]
    assert all(green <= max(red, blue) + 1 for red, green, blue in pixels)


def test_the_image_given_is_left_as_it_was():
    image = Image.new("RGB", (200, 200), GREY)

    composite_logo(image, red_square(), corner=LogoCorner.TOP_LEFT, margin=0, scale=0.5, opacity=1.0)

    assert image.getcolors() == [(200 * 200, GREY)]


def test_an_unknown_corner_is_refused():
    with pytest.raises(ValueError, match="corner"):
        composite_logo(Image.new("RGB", (10, 10)), red_square(), corner="middle", margin=0, scale=0.5, opacity=1)
