"""The models a job may ask for, with their limits. Plain data: safe to import from the web process."""

from dataclasses import dataclass

Z_IMAGE_TURBO = "Tongyi-MAI/Z-Image-Turbo"
SDXL = "stabilityai/stable-diffusion-xl-base-1.0"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    label: str
    default_steps: int
    default_guidance: float
    max_steps: int
    max_guidance: float
    size_multiple: int
    min_side: int
    max_side: int
    schedulers: tuple[str, ...]
    seconds_per_step_estimate: float
    # The prompt tokens the text encoder reads; the rest of a longer prompt is cut (the job says so).
    max_prompt_tokens: int

    def snap(self, side: int) -> int:
        """The side the model actually renders: rounded up to its multiple (then cropped back)."""
        multiple = self.size_multiple
        return max(multiple, -(-side // multiple) * multiple)


MODELS: dict[str, ModelSpec] = {
    Z_IMAGE_TURBO: ModelSpec(
        name=Z_IMAGE_TURBO,
        label="Z-Image-Turbo",
        # The model card's recommendation: 9 steps (8 transformer passes), no CFG.
        default_steps=9,
        default_guidance=0.0,
        max_steps=50,
        max_guidance=10.0,
        size_multiple=16,
        min_side=256,
        max_side=2048,
        schedulers=("FlowMatchEulerDiscrete",),
        seconds_per_step_estimate=0.1,
        max_prompt_tokens=512,  # the pipeline's max_sequence_length
    ),
    SDXL: ModelSpec(
        name=SDXL,
        label="Stable Diffusion XL",
        default_steps=30,
        default_guidance=7.0,
        max_steps=100,
        max_guidance=20.0,
        size_multiple=8,
        min_side=256,
        max_side=2048,
        schedulers=(
            "EulerDiscrete",
            "EulerAncestralDiscrete",
            "DPMSolverMultistep",
            "DDIM",
            "UniPCMultistep",
        ),
        seconds_per_step_estimate=0.05,
        max_prompt_tokens=77,  # CLIP's context, both text encoders
    ),
}
DEFAULT_MODEL = Z_IMAGE_TURBO
# The short names a job request may use for each model (the full names work too).
MODEL_ALIASES: dict[str, str] = {"z-image-turbo": Z_IMAGE_TURBO, "sdxl": SDXL}
MODEL_NAMES = (*MODEL_ALIASES, *MODELS)

SIZE_PRESETS: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "16:9": (1024, 576),
    "9:16": (576, 1024),
    "4:3": (1024, 768),
    "instagram": (1080, 1080),
    "facebook_cover": (820, 312),
}

MAX_PROMPT_LENGTH = 2000
MAX_IMAGES_PER_JOB = 4


def model_for_name(name: str) -> ModelSpec | None:
    """The model a request names by its short or full name (any letter case), or None."""
    lowered = name.strip().lower()
    full = MODEL_ALIASES.get(lowered) or next((key for key in MODELS if key.lower() == lowered), None)
    return MODELS[full] if full else None


def get_model(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"Unknown model {name!r}; choose one of: {', '.join(MODELS)}.") from None
