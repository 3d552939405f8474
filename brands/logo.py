"""A brand kit's logo on a finished image: placed in a corner, sized and spaced as shares of the image's width,
faded by an opacity, blended through its own alpha. The worker's store step calls it (generation.runner)."""

from __future__ import annotations

from PIL import Image

from .models import LogoCorner


def logo_box(
    image_size: tuple[int, int], logo_size: tuple[int, int], *, corner: str, margin: float, scale: float
) -> tuple[int, int, int, int]:
    """Where the logo goes: (left, top, width, height) in the image's pixels.

    Width `scale` x the image's width, the logo's aspect kept; the gap to both edges of its corner is `margin` x
    the image's width. A logo that would then not fit (a tall logo on a banner) is shrunk, aspect kept, to fit
    inside the margins, so it is never cut off.
    """
    width, height = image_size
    gap = round(margin * width)
    logo_width = max(1, round(scale * width))
    logo_height = max(1, round(logo_width * logo_size[1] / logo_size[0]))
    room_width, room_height = max(1, width - 2 * gap), max(1, height - 2 * gap)
    if logo_width > room_width or logo_height > room_height:
        fit = min(room_width / logo_width, room_height / logo_height)
        logo_width, logo_height = max(1, int(logo_width * fit)), max(1, int(logo_height * fit))
    left = gap if corner in (LogoCorner.TOP_LEFT, LogoCorner.BOTTOM_LEFT) else width - gap - logo_width
    top = gap if corner in (LogoCorner.TOP_LEFT, LogoCorner.TOP_RIGHT) else height - gap - logo_height
    return left, top, logo_width, logo_height


def composite_logo(
    image: Image.Image, logo: Image.Image, *, corner: str, margin: float, scale: float, opacity: float
) -> Image.Image:
    """A new image: `image` with `logo` over it (`image` itself is left as it is, in its own mode).

    Alpha-correct: the logo is resized premultiplied (Pillow does so for RGBA, so its transparent pixels' colours
    never bleed into the edges), its alpha multiplied by `opacity`, then blended source-over.
    """
    if corner not in LogoCorner.values:
        raise ValueError(f"Unknown logo corner {corner!r}.")
    if not 0.0 <= opacity <= 1.0:
        raise ValueError("The opacity is a share between 0 and 1.")
    left, top, logo_width, logo_height = logo_box(image.size, logo.size, corner=corner, margin=margin, scale=scale)
    placed = logo.convert("RGBA").resize((logo_width, logo_height), Image.Resampling.LANCZOS)
    if opacity < 1.0:
        alpha = placed.getchannel("A").point(lambda value: round(value * opacity))
        placed.putalpha(alpha)
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    layer.paste(placed, (left, top))
    base = image.convert("RGBA")
    return Image.alpha_composite(base, layer).convert(image.mode)
