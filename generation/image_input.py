"""What a job starts from when it starts from the customer's image: resolved and checked at submit.

The mode follows from what is given: an upscale factor (upscale), an outpaint anchor (outpaint), a mask (inpaint),
a source alone (image-to-image), nothing (text). Sizes, strengths and plan limits are checked here, before any row
is written, each refusal naming its field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from core.errors import DomainError
from gallery.models import GeneratedImage, SourceImage, SourceKind

from .engine.image_ops import OUTPAINT_ANCHORS, mask_fits
from .engine.job_input import JobMode
from .engine.models_catalog import ModelSpec

if TYPE_CHECKING:
    from accounts.tiers import TierLimits

MIN_STRENGTH, MAX_STRENGTH = 0.05, 1.0
# Image-to-image keeps the composition at 0.6; inpaint and outpaint redraw their region from noise; an upscale's
# tiles are refined lightly so the enlargement keeps the source's content.
DEFAULT_STRENGTH = {JobMode.IMAGE: 0.6, JobMode.INPAINT: 1.0, JobMode.OUTPAINT: 1.0, JobMode.UPSCALE: 0.3}
UPSCALE_FACTORS = (2, 4)

Source = SourceImage | GeneratedImage


class SourceNotFound(DomainError):
    """404: the id names none of the user's uploads or gallery images (another user's reads the same)."""

    status_code = 404
    code = "not_found"

    def __init__(self, field: str):
        self.field = field
        super().__init__(_("%(field)s: No such image.") % {"field": field})

    def details(self) -> dict[str, object]:
        return {"fields": {self.field: [_("No such image.")]}}


@dataclass(frozen=True)
class ImageInput:
    mode: JobMode = JobMode.TEXT
    source: Source | None = None
    mask: SourceImage | None = None
    strength: float = 0.0
    outpaint_anchor: str = ""
    upscale_factor: int = 0

    @property
    def source_upload(self) -> SourceImage | None:
        return self.source if isinstance(self.source, SourceImage) else None

    @property
    def source_image(self) -> GeneratedImage | None:
        return self.source if isinstance(self.source, GeneratedImage) else None


def resolve_image_input(
    *,
    source: Source | None,
    mask: SourceImage | None,
    strength: float | None,
    outpaint_anchor: str | None,
    upscale_factor: int | None,
    limits: TierLimits,
) -> ImageInput:
    """The job's mode and image inputs, checked against each other and the plan (not yet against the size)."""
    if source is None:
        for field, value in (("mask", mask), ("strength", strength), ("outpaint", outpaint_anchor)):
            if value is not None:
                raise ValidationError({field: _("Give a source_image to start from.")})
        if upscale_factor is not None:
            raise ValidationError({"upscale_factor": _("Give a source_image to start from.")})
        return ImageInput()
    if isinstance(source, SourceImage) and source.kind != SourceKind.IMAGE:
        raise ValidationError({"source_image": _("This upload is a mask, not an image.")})
    if source.width * source.height > limits.max_source_pixels:
        raise ValidationError(
            {
                "source_image": _("Your plan accepts source images up to %(pixels)s megapixels; this one has %(has)s.")
                % {
                    "pixels": round(limits.max_source_pixels / 1_000_000, 1),
                    "has": round(source.width * source.height / 1_000_000, 1),
                }
            }
        )
    mode = JobMode.IMAGE
    if upscale_factor is not None:
        mode = JobMode.UPSCALE
        if upscale_factor not in UPSCALE_FACTORS:
            raise ValidationError({"upscale_factor": _("Choose 2 or 4.")})
        if upscale_factor > limits.max_upscale_factor:
            raise ValidationError(
                {"upscale_factor": _("Your plan upscales up to %(factor)sx.") % {"factor": limits.max_upscale_factor}}
            )
        longest = max(source.width, source.height) * upscale_factor
        if longest > settings.UPSCALE_MAX_SIDE:
            raise ValidationError(
                {
                    "upscale_factor": _("The result would be %(side)s px a side; upscales go up to %(max)s px.")
                    % {"side": longest, "max": settings.UPSCALE_MAX_SIDE}
                }
            )
    if outpaint_anchor is not None:
        if mode != JobMode.IMAGE:
            raise ValidationError({"outpaint": _("Upscale or extend, not both.")})
        if outpaint_anchor not in OUTPAINT_ANCHORS:
            raise ValidationError(
                {"outpaint": _("anchor must be one of: %(anchors)s.") % {"anchors": ", ".join(OUTPAINT_ANCHORS)}}
            )
        mode = JobMode.OUTPAINT
    if mask is not None:
        if mode != JobMode.IMAGE:
            raise ValidationError({"mask": _("A mask is for repainting a region: not with extend or upscale.")})
        if not mask_fits((mask.width, mask.height), (source.width, source.height)):
            raise ValidationError(
                {
                    "mask": _("The mask is %(mask)s and the image %(image)s: their shapes must match.")
                    % {"mask": f"{mask.width}x{mask.height}", "image": f"{source.width}x{source.height}"}
                }
            )
        mode = JobMode.INPAINT
    if strength is None:
        strength = DEFAULT_STRENGTH[mode]
    elif mode == JobMode.OUTPAINT:
        raise ValidationError({"strength": _("An extended canvas is drawn in full: strength does not apply.")})
    elif isinstance(strength, bool) or not isinstance(strength, int | float) or not MIN_STRENGTH <= strength <= 1:
        raise ValidationError({"strength": _("Must be between 0.05 and 1.0.")})
    return ImageInput(
        mode=mode,
        source=source,
        mask=mask,
        strength=float(strength),
        outpaint_anchor=outpaint_anchor or "",
        upscale_factor=upscale_factor or 0,
    )


def fitted_size(width: int, height: int, *, model: ModelSpec, max_side: int) -> tuple[int, int]:
    """A source's size brought within the model's and plan's sides, keeping its aspect ratio."""
    largest = min(model.max_side, max_side)
    scale = min(1.0, largest / max(width, height))
    scale = max(scale, model.min_side / min(width, height))
    return (
        max(model.min_side, min(largest, round(width * scale))),
        max(model.min_side, min(largest, round(height * scale))),
    )


def output_size(image_input: ImageInput, *, model: ModelSpec, max_side: int) -> tuple[int, int] | None:
    """The size the mode dictates (inpaint keeps the source's, upscale multiplies it), or its default for
    image-to-image (the source's); None for text and outpaint, whose size comes from the request."""
    source = image_input.source
    if source is None or image_input.mode == JobMode.OUTPAINT:
        return None
    if image_input.mode == JobMode.UPSCALE:
        return source.width * image_input.upscale_factor, source.height * image_input.upscale_factor
    return fitted_size(source.width, source.height, model=model, max_side=max_side)


def upscale_price(width: int, height: int) -> int:
    """An upscale costs one credit per started megapixel of output (2x of a 1024² image: 4 credits)."""
    return math.ceil(width * height / 1_048_576)
