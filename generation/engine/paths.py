"""Production paths as data: one frozen `PathSpec` per path, in one table.

The job model's choices, the Celery queues (`gen.<path>`), the launcher's `-Q` list and the paths API are all
derived from `PATHS`. Adding a sixth path means adding one `PathSpec` here (and the migration for the choices).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

logger = logging.getLogger(__name__)

DEFAULT_PATH = "fashion"
DEFAULT_QUEUE = "default"  # beat's sweepers and every task that is not a job


@dataclass(frozen=True)
class PathSpec:
    """What makes a production path: its look (style and negative prompts), its default size, its capacity."""

    name: str
    label: StrOrPromise  # lazy: shown in the reader's language
    style_prompts: tuple[str, ...]
    negative_prompt: str
    default_size: tuple[int, int] = (1024, 1024)
    # How many of this path's jobs run at once across all workers; a worker leaves the next one queued.
    concurrency: int = 3

    @property
    def queue(self) -> str:
        return f"gen.{self.name}"

    def build_pipeline(self, template_pipeline: list[dict[str, Any]], *, mode: str = "text") -> list[dict[str, Any]]:
        """The node list this path runs: the template's nodes, completed with the path's own defaults.

        `mode` is the job's (engine.job_input.JobMode): a job with a source image gets a load_image node before its
        drawing node, and an upscale draws with an upscale node instead of the template's generation.
        """
        nodes = [dict(node) for node in template_pipeline]
        drawer = "upscale" if mode == "upscale" else "generation"
        if mode == "upscale":
            nodes = [node for node in nodes if node["node_type"] != "generation"]
        types = [node["node_type"] for node in nodes]
        if "prompt_enhancement" not in types:
            parameters: dict[str, Any] = {"style_prompts": list(self.style_prompts)}
            if self.negative_prompt:
                parameters["negative_prompt"] = self.negative_prompt
            nodes.insert(0, {"node_type": "prompt_enhancement", "parameters": parameters})
        if drawer not in types:
            saves = [index for index, node in enumerate(nodes) if node["node_type"] == "save_image"]
            parameters = {"model_type": "diffusion"} if drawer == "generation" else {}
            nodes.insert(saves[0] if saves else len(nodes), {"node_type": drawer, "parameters": parameters})
        if mode != "text" and "load_image" not in types:
            at = next(index for index, node in enumerate(nodes) if node["node_type"] == drawer)
            nodes.insert(at, {"node_type": "load_image", "parameters": {}})
        if "save_image" not in types:
            nodes.append({"node_type": "save_image", "parameters": {}})
        return nodes


PATHS: dict[str, PathSpec] = {
    spec.name: spec
    for spec in (
        PathSpec(
            name="fashion",
            label=_("Fashion"),
            style_prompts=("fashion photography", "editorial styling", "studio lighting", "detailed fabric texture"),
            negative_prompt="deformed hands, extra fingers, distorted fabric, low quality, blurry, watermark",
            concurrency=5,
        ),
        PathSpec(
            name="beauty",
            label=_("Beauty"),
            style_prompts=("beauty photography", "flawless skin texture", "soft diffused light", "macro detail"),
            negative_prompt="plastic skin, over-smoothed skin, asymmetric eyes, low quality, blurry, watermark",
        ),
        PathSpec(
            name="eats",
            label=_("Eats"),
            style_prompts=(
                "food photography",
                "appetizing",
                "shallow depth of field",
                "natural light",
                "fresh ingredients",
            ),
            negative_prompt="unappetizing, burnt, plastic-looking food, low quality, blurry, watermark",
            default_size=(1024, 768),
        ),
        PathSpec(
            name="cinema",
            label=_("Cinema"),
            style_prompts=("cinematic still", "anamorphic lens", "dramatic lighting", "film grain", "color graded"),
            negative_prompt="flat lighting, amateur snapshot, low quality, blurry, watermark",
            default_size=(1024, 576),
        ),
        PathSpec(
            name="cartoon",
            label=_("Cartoon"),
            style_prompts=("cartoon illustration", "clean line art", "vibrant flat colors", "expressive characters"),
            negative_prompt="photorealistic, photo, 3d render, low quality, blurry, watermark",
        ),
    )
}

PATH_CHOICES: list[tuple[str, StrOrPromise]] = [(spec.name, spec.label) for spec in PATHS.values()]
PATH_NAMES: tuple[str, ...] = tuple(PATHS)
QUEUE_NAMES: tuple[str, ...] = (DEFAULT_QUEUE, *(spec.queue for spec in PATHS.values()))


def get_path(name: str) -> PathSpec:
    return PATHS[name]


def resolve_path(name: str | None) -> PathSpec:
    """No path -> fashion. An unknown path follows UNKNOWN_PATH_POLICY: `use_default` or `reject`."""
    if not name:
        return PATHS[DEFAULT_PATH]
    if name in PATHS:
        return PATHS[name]
    if settings.UNKNOWN_PATH_POLICY == "use_default":
        logger.warning("unknown production path, running as %s", DEFAULT_PATH, extra={"path": name})
        return PATHS[DEFAULT_PATH]
    message = _("Unknown production path %(name)r; choose one of: %(paths)s.")
    raise ValidationError({"production_path": message % {"name": name, "paths": ", ".join(PATHS)}})
