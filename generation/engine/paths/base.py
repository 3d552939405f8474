"""The interface every production path implements: validate input, build nodes, save results, cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ValidationError

if TYPE_CHECKING:
    from PIL.Image import Image

    from gallery.models import GeneratedImage
    from generation.models import GenerationJob

    from ..workflow import WorkflowContext


@dataclass
class JobInput:
    """What a user asked for, after template defaults were applied, before anything is stored."""

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
    pipeline: list[dict[str, Any]]
    credit_cost_per_image: int = 1


class ProductionPath:
    """A production path's workflow module. Subclass, set `name`, and register with `@register_path`."""

    name: ClassVar[str]
    label: ClassVar[str]
    concurrency: ClassVar[int] = 3
    # Used when the job has no template (or the template's pipeline lacks a prompt_enhancement node).
    style_prompts: ClassVar[tuple[str, ...]] = ()
    negative_prompt: ClassVar[str] = "low quality, blurry, distorted, watermark, text artifacts"
    default_size: ClassVar[tuple[int, int]] = (1024, 1024)

    @property
    def queue(self) -> str:
        return f"gen.{self.name}"

    def validate(self, job_input: JobInput) -> None:
        """Path-specific rules on submit. Raise ValidationError with field names."""
        if not job_input.prompt.strip():
            raise ValidationError({"prompt": "Describe what to generate."})

    def build_pipeline(self, template_pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The node list this path runs: the template's nodes plus the path's own defaults and nodes."""
        nodes = [dict(node) for node in template_pipeline]
        types = [node["node_type"] for node in nodes]
        if "prompt_enhancement" not in types:
            parameters: dict[str, Any] = {"style_prompts": list(self.style_prompts)}
            if self.negative_prompt:
                parameters["negative_prompt"] = self.negative_prompt
            nodes.insert(0, {"node_type": "prompt_enhancement", "parameters": parameters})
        if "generation" not in types:
            nodes.append({"node_type": "generation", "parameters": {"model_type": "diffusion"}})
        if "save_image" not in types:
            nodes.append({"node_type": "save_image", "parameters": {}})
        return nodes

    def credit_cost(self, job_input: JobInput) -> int:
        return job_input.credit_cost_per_image * job_input.num_images

    def validate_for_run(self, job: GenerationJob) -> None:
        """The worker's check before it spends GPU time: inputs present and coherent."""
        if not job.prompt.strip():
            raise ValidationError("The job has no prompt.")
        if not job.workflow:
            raise ValidationError("The job has no workflow.")

    def image_type(self, job: GenerationJob) -> str:
        return job.image_type

    def save_result(self, context: WorkflowContext, *, index: int, image: Image) -> GeneratedImage:
        from gallery.services import store_generated_image

        return store_generated_image(
            job=context.job,
            index=index,
            image=image,
            prompt_used=context.prompt,
            negative_prompt_used=context.negative_prompt,
            seed=context.seed + index,
            backend=context.backend_name,
            generation_seconds=context.generation_seconds.get(index, 0.0),
            image_type=self.image_type(context.job),
        )
