"""The one record of what a job asks for, resolved at submit and stored on the job; the worker reads it back."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from django.core.exceptions import ValidationError

from .models_catalog import MAX_PROMPT_LENGTH


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

    def as_fields(self) -> dict[str, Any]:
        """The job row's fields of the same names."""
        return asdict(self)


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
        raise ValidationError({field: "This field is required."})
    if len(value) > MAX_PROMPT_LENGTH:
        raise ValidationError({field: f"At most {MAX_PROMPT_LENGTH} characters (got {len(value)})."})
    if "\x00" in value:
        raise ValidationError({field: "Must not contain NUL characters."})
    return value
