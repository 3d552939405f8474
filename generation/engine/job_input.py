"""The one record of what a job asks for, resolved at submit and stored on the job; the worker reads it back."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .models_catalog import MAX_PROMPT_LENGTH


class JobMode(enum.StrEnum):
    """What a job starts from: text alone, or the customer's image (redrawn, repainted, extended, enlarged)."""

    TEXT = "text"
    IMAGE = "image"
    INPAINT = "inpaint"
    OUTPAINT = "outpaint"
    UPSCALE = "upscale"


# JobInput.reference_method of a job whose reference image (a scene character's) conditions identity through
# SDXL's IP-Adapter, drawn from noise: generation.models.ReferenceMethod.IP_ADAPTER. "image" (image-to-image from
# the reference) and "" (no reference) draw as the job's mode says.
IP_ADAPTER = "ip_adapter"


@dataclass(frozen=True)
class JobInput:
    """Template defaults, path defaults and the user's allowed overrides, all checked (generation.services)."""

    production_path: str
    prompt: str
    negative_prompt: str
    model: str
    scheduler: str
    steps: int
    guidance: float
    width: int
    height: int
    num_images: int
    seed: int
    workflow: list[dict[str, Any]]  # the node list the job runs, resolved at submit
    credit_cost: int
    # Image input (#18). width/height are always the output's size: for outpaint the larger canvas, for upscale
    # exactly upscale_factor x the source.
    mode: str = JobMode.TEXT
    source_key: str = ""  # storage name of the source PNG; "" for a text job
    mask_key: str = ""  # storage name of the mask PNG (white = repaint); inpaint only
    strength: float = 0.0  # how far from the source the model may go (image, inpaint, upscale refinement)
    outpaint_anchor: str = ""  # where the source sits on the larger canvas: center, left, right, top, bottom
    upscale_factor: int = 0
    reference_method: str = ""  # a scene character's reference: "image", IP_ADAPTER, or "" for none
    # LoRA styles (#20), the job's snapshot in the order they apply: [{"id", "name", "weight", "trigger_words",
    # "file" (storage key), "sha256", "base_model"}]; the worker fetches each file and loads it as an adapter.
    styles: list[dict[str, Any]] = field(default_factory=list)

    def as_fields(self) -> dict[str, Any]:
        """The job row's fields of the same names (the source and mask are rows the job links to, not keys; the
        styles snapshot is written by the submit beside the brand kit it may come from)."""
        fields = asdict(self)
        del fields["source_key"], fields["mask_key"], fields["styles"]
        return fields


def fit_prompt(value: str) -> tuple[str, bool]:
    """A prompt composed from stored text (a story's scene), cut at a word boundary to MAX_PROMPT_LENGTH;
    and whether it was cut. What people type is refused instead (clean_prompt)."""
    value = value.strip()
    if len(value) <= MAX_PROMPT_LENGTH:
        return value, False
    cut = value[:MAX_PROMPT_LENGTH]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,."), True


def clean_prompt(value: str | None, *, field: str = "prompt", required: bool = True) -> str:
    """The one check of a prompt's text, wherever it comes from (API, website, scenes, a stored job)."""
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({field: _("This field is required.")})
    if len(value) > MAX_PROMPT_LENGTH:
        raise ValidationError(
            {field: _("At most %(max)s characters (got %(got)s).") % {"max": MAX_PROMPT_LENGTH, "got": len(value)}}
        )
    if "\x00" in value:
        raise ValidationError({field: _("Must not contain NUL characters.")})
    return value
