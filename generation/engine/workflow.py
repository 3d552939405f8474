"""The workflow engine: a registry of node types and a runner that feeds each node's output to the next.

A template's `pipeline` is a list of `{"node_type": ..., "parameters": {...}}`. It is validated
against the registry when the template is saved and run in order by the worker. New node types
register themselves with `@register_node("name")`. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .job_input import JobInput

if TYPE_CHECKING:
    from PIL.Image import Image


class WorkflowConfigError(ValidationError):
    """A bad workflow config; `path` points at the offending field, e.g. `pipeline[1].parameters.steps`."""

    def __init__(self, path: str, message: str):
        self.path = path
        super().__init__({path: [message]})


@dataclass
class WorkflowContext:
    """What flows between nodes: the job's one input record, plus what nodes write as they run.

    `store_image(context, index, image)` is the worker's (generation.runner): the engine never touches storage.
    """

    job: JobInput
    prompt: str = ""  # the job's prompt, extended by prompt_enhancement
    negative_prompt: str = ""
    on_step: Callable[[int, int, Any], None] = lambda step, total, latents: None
    on_image: Callable[[Any], None] = lambda image: None
    store_image: Callable[[WorkflowContext, int, Image], Any] | None = None
    # The worker's: opens a stored image (the job's source or mask) by its storage key.
    load_image: Callable[[str], Image] | None = None
    # The worker's: a style of the job's snapshot (JobInput.styles) as a local .safetensors path, hash-checked.
    load_style: Callable[[dict[str, Any]], str] | None = None
    # Set by the load_image node: the image to start from (for outpaint, the canvas with the source placed on it)
    # and, for inpaint and outpaint, the "L" mask of what to redraw (white), both at the job's output size.
    source: Image | None = None
    mask: Image | None = None
    # (index, image) pairs; the generation node makes it a lazy iterator so each image is saved
    # (and announced) as soon as it is drawn.
    images: Iterable[tuple[int, Image]] = field(default_factory=list)
    done_indexes: set[int] = field(default_factory=set)
    generation_seconds: dict[int, float] = field(default_factory=dict)
    saved: list[Any] = field(default_factory=list)
    backend_name: str = ""
    prompt_truncated: bool = False  # the model reads only the start of the prompt

    def __post_init__(self) -> None:
        self.prompt = self.prompt or self.job.prompt
        self.negative_prompt = self.negative_prompt or self.job.negative_prompt


class Node:
    """A workflow step. Subclasses declare their parameters and implement `run`."""

    node_type: ClassVar[str]
    # parameter name -> (accepted python types, required)
    parameters: ClassVar[dict[str, tuple[tuple[type, ...], bool]]] = {}

    def __init__(self, **params: Any):
        self.params = params

    @classmethod
    def validate(cls, params: dict[str, Any], path: str) -> dict[str, Any]:
        if not isinstance(params, dict):
            raise WorkflowConfigError(path, _("Must be an object."))
        for name in params:
            if name not in cls.parameters:
                allowed = ", ".join(sorted(cls.parameters)) or "none"
                raise WorkflowConfigError(
                    f"{path}.{name}", _("Unknown parameter (allowed: %(allowed)s).") % {"allowed": allowed}
                )
        for name, (types, required) in cls.parameters.items():
            if name not in params:
                if required:
                    raise WorkflowConfigError(f"{path}.{name}", _("This parameter is required."))
                continue
            value = params[name]
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                expected = " or ".join(t.__name__ for t in types)
                raise WorkflowConfigError(f"{path}.{name}", _("Must be of type %(expected)s.") % {"expected": expected})
        cls.check(params, path)
        return params

    @classmethod
    def check(cls, params: dict[str, Any], path: str) -> None:
        """Extra checks beyond types; raise WorkflowConfigError."""

    def run(self, context: WorkflowContext) -> None:
        raise NotImplementedError


NODE_TYPES: dict[str, type[Node]] = {}


def register_node(node_type: str) -> Callable[[type[Node]], type[Node]]:
    def decorator(cls: type[Node]) -> type[Node]:
        if node_type in NODE_TYPES:
            raise ValueError(f"Node type {node_type!r} is already registered.")
        cls.node_type = node_type
        NODE_TYPES[node_type] = cls
        return cls

    return decorator


def validate_pipeline(pipeline: Any, path: str = "pipeline") -> list[dict[str, Any]]:
    """Check every node against the registry; returns the pipeline normalised."""
    from . import nodes  # noqa: F401  (registers the built-in node types)

    if not isinstance(pipeline, list):
        raise WorkflowConfigError(path, _("Must be a list of nodes."))
    normalised = []
    for index, spec in enumerate(pipeline):
        where = f"{path}[{index}]"
        if not isinstance(spec, dict):
            raise WorkflowConfigError(where, _("Must be an object with node_type and parameters."))
        unknown = set(spec) - {"node_type", "parameters"}
        if unknown:
            raise WorkflowConfigError(
                f"{where}.{sorted(unknown)[0]}", _("Unknown key (allowed: node_type, parameters).")
            )
        node_type = spec.get("node_type")
        if node_type not in NODE_TYPES:
            known = ", ".join(sorted(NODE_TYPES))
            raise WorkflowConfigError(
                f"{where}.node_type",
                _("Unknown node type %(node_type)s (known: %(known)s).")
                % {"node_type": repr(node_type), "known": known},
            )
        params = NODE_TYPES[node_type].validate(spec.get("parameters", {}), f"{where}.parameters")
        normalised.append({"node_type": node_type, "parameters": params})
    _check_order(normalised, path)
    return normalised


DRAWING_NODES = ("generation", "upscale")


def _check_order(pipeline: list[dict[str, Any]], path: str) -> None:
    """save_image after a node that draws; an upscale, or a generation from an image, after load_image."""
    order = [spec["node_type"] for spec in pipeline]
    drawing = [index for index, node_type in enumerate(order) if node_type in DRAWING_NODES]
    if "save_image" in order and (not drawing or order.index("save_image") < drawing[0]):
        raise WorkflowConfigError(path, _("save_image must come after a generation or upscale node."))
    loaded = order.index("load_image") if "load_image" in order else len(order)
    for index in drawing:
        spec = pipeline[index]
        needs_source = spec["node_type"] == "upscale" or spec["parameters"].get("mode", "text") != "text"
        if needs_source and index < loaded:
            raise WorkflowConfigError(
                f"{path}[{index}]", _("%(node)s needs a load_image node before it.") % {"node": spec["node_type"]}
            )


def pipeline_requires_source(pipeline: list[dict[str, Any]]) -> bool:
    """A template whose nodes load an image asks the customer for one."""
    return any(node.get("node_type") == "load_image" for node in pipeline)


def run_pipeline(pipeline: list[dict[str, Any]], context: WorkflowContext) -> WorkflowContext:
    """Run the nodes in order; each reads and extends the shared context."""
    from . import nodes  # noqa: F401

    for spec in pipeline:
        NODE_TYPES[spec["node_type"]](**spec.get("parameters", {})).run(context)
    for _image in context.images:  # a pipeline without save_image still draws its images
        pass
    return context


CONFIG_KEYS = {"model", "scheduler", "steps", "cfg_scale", "width", "height", "pipeline", "outpaint_anchor", "inputs"}


def template_outpaint_anchor(config: dict[str, Any]) -> str | None:
    """Where a template that extends the customer's image to its own canvas (its width and height) keeps the
    image: the job is then an outpaint unless the request names its own anchor."""
    return config.get("outpaint_anchor")


def validate_workflow_config(config: Any) -> dict[str, Any]:
    """Validate a template's whole config: model and its limits, every pipeline node, the declared inputs."""
    from .models_catalog import MODELS
    from .template_inputs import validate_input_declarations

    if not isinstance(config, dict):
        raise WorkflowConfigError("config", _("Must be a JSON object."))
    for key in config:
        if key not in CONFIG_KEYS:
            raise WorkflowConfigError(
                key, _("Unknown key (allowed: %(names)s).") % {"names": ", ".join(sorted(CONFIG_KEYS))}
            )
    model_name = config.get("model")
    if model_name not in MODELS:
        raise WorkflowConfigError(
            "model",
            _("Unknown model %(model_name)s (known: %(names)s).")
            % {"model_name": repr(model_name), "names": ", ".join(MODELS)},
        )
    spec = MODELS[model_name]
    scheduler = config.get("scheduler", spec.schedulers[0])
    if scheduler not in spec.schedulers:
        raise WorkflowConfigError(
            "scheduler",
            _("%(label)s supports: %(names)s.") % {"label": spec.label, "names": ", ".join(spec.schedulers)},
        )
    # key -> (accepted types, lowest, highest)
    limits: dict[str, tuple[type[int] | tuple[type[int], type[float]], float, float]] = {
        "steps": (int, 1, spec.max_steps),
        "cfg_scale": ((int, float), 0, spec.max_guidance),
        "width": (int, spec.min_side, spec.max_side),
        "height": (int, spec.min_side, spec.max_side),
    }
    for key, (types, low, high) in limits.items():
        if key not in config:
            continue
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise WorkflowConfigError(key, _("Must be a number."))
        if not low <= value <= high:
            raise WorkflowConfigError(
                key,
                _("Must be between %(low)s and %(high)s for %(label)s.")
                % {"low": low, "high": high, "label": spec.label},
            )
    pipeline = validate_pipeline(config.get("pipeline", []))
    if "outpaint_anchor" in config:
        _check_outpaint_anchor(config, pipeline)
    if "inputs" in config:
        config = {**config, "inputs": validate_input_declarations(config["inputs"])}
    return {**config, "scheduler": scheduler, "pipeline": pipeline}


def _check_outpaint_anchor(config: dict[str, Any], pipeline: list[dict[str, Any]]) -> None:
    """An extending template names a known anchor, the canvas it extends to, and loads the customer's image."""
    from .image_ops import OUTPAINT_ANCHORS

    if config["outpaint_anchor"] not in OUTPAINT_ANCHORS:
        raise WorkflowConfigError(
            "outpaint_anchor", _("Must be one of: %(names)s.") % {"names": ", ".join(OUTPAINT_ANCHORS)}
        )
    if "width" not in config or "height" not in config:
        raise WorkflowConfigError("outpaint_anchor", _("Give the width and height the image is extended to."))
    if not pipeline_requires_source(pipeline):
        raise WorkflowConfigError("outpaint_anchor", _("Extending needs a load_image node in the pipeline."))
