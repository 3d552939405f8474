"""LoRA styles: checking an uploaded .safetensors against a base model, and the adapters a worker keeps loaded.

`check_lora_file` reads the safetensors header only (names, dtypes, shapes, offsets; the few one-number alphas
too), never unpickles and never loads a weight: the names go through diffusers' own `lora_state_dict` (as
meta tensors), so every key format `load_lora_weights` converts (diffusers/peft, kohya `lora_unet_...`,
`diffusion_model.` prefixes) is accepted, and each converted LoRA pair must fit a layer of the model this
deployment runs (the tiny random-weight pipelines on the embedded default, the published configs otherwise):
lora_A (rank, in_features), lora_B (out_features, rank).

On the worker, `StyleAdapters` loads styles into a model's pipeline through `load_lora_weights(path,
adapter_name=<sha256-based>)`, activates a request's through `set_adapters(names, weights)`, keeps up to
STYLE_CACHE_MAX_ADAPTERS / STYLE_CACHE_MAX_MB of them per worker process (least recently used deleted with
`delete_adapters`) and disables them all for a request without styles, so it draws exactly the base model.
Nothing here imports torch at import time: the web process calls `check_lora_file` at upload.
"""

from __future__ import annotations

import json
import logging
import re
import struct
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from django.utils.translation import gettext as _

from ..models_catalog import MODELS, SDXL, Z_IMAGE_TURBO

if TYPE_CHECKING:
    from . import LoraStyle

logger = logging.getLogger(__name__)

# The LoRA-loadable components of each model's pipeline, as diffusers' loaders name them (key prefixes).
COMPONENTS: dict[str, tuple[str, ...]] = {
    Z_IMAGE_TURBO: ("transformer",),
    SDXL: ("unet", "text_encoder", "text_encoder_2"),
}
TEXT_ENCODERS = frozenset({"text_encoder", "text_encoder_2"})
# safetensors' own limit is 100 MB; a LoRA's header (names, shapes, offsets) is well under 1 MB.
MAX_HEADER_BYTES = 16 * 2**20
DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16"}
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2}
LORA_KEY = re.compile(r"^(?P<module>.+)\.(?P<part>lora_A\.weight|lora_B\.weight|lora_B\.bias)$")


class LoraFileError(ValueError):
    """The file is not a LoRA this deployment can load for the base model; the message says what to do, in the
    active language (the uploader's request; English on a worker)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StyleUnavailable(RuntimeError):
    """A job's style could not be loaded on the worker (missing, corrupt, wrong base): the job fails, refunded.

    `intact`: False when a failed load may have left the pipeline changed (the backend then drops the model)."""

    def __init__(self, message: str, *, intact: bool = True) -> None:
        super().__init__(message)
        self.intact = intact


@dataclass(frozen=True)
class LoraSummary:
    rank: int  # the largest rank of its layers
    tensors: int  # tensors in the file
    layers: int  # layers of the model it adapts
    targets: tuple[str, ...]  # the components it adapts, e.g. ("unet", "text_encoder")
    dtype: str  # the weights' safetensors dtype (F16, BF16, F32...)


# --- the header ---------------------------------------------------------------------------------


def _refuse_other_formats(start: bytes) -> None:
    if start[:2] == b"PK":
        raise LoraFileError(
            _(
                "This is a zip archive (a PyTorch .pt/.ckpt/.bin checkpoint), not safetensors: convert the LoRA to "
                ".safetensors (for example with the kohya or diffusers tools) and upload that."
            )
        )
    if start[:1] == b"\x80" and start[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise LoraFileError(
            _(
                "This is a Python pickle (a PyTorch checkpoint), not safetensors; pickles can run code, so they are "
                "never opened here. Convert the LoRA to .safetensors and upload that."
            )
        )


def read_header(fileobj: BinaryIO, *, max_bytes: int) -> tuple[dict[str, dict[str, Any]], int, int]:
    """The safetensors header's tensors (name -> dtype, shape, data_offsets), where their data starts, and the
    file's size; every entry checked against the file's bounds, so nothing after it needs trusting."""
    fileobj.seek(0, 2)
    size = fileobj.tell()
    fileobj.seek(0)
    if size > max_bytes:
        raise LoraFileError(
            _("The file is %(size)s MB; a style may be at most %(max)s MB.")
            % {"size": f"{size / 2**20:.0f}", "max": f"{max_bytes / 2**20:.0f}"}
        )
    start = fileobj.read(8)
    _refuse_other_formats(start)
    if len(start) < 8:
        raise LoraFileError(_("The file is too short to be a .safetensors LoRA (it may be truncated)."))
    (header_bytes,) = struct.unpack("<Q", start)
    if header_bytes > MAX_HEADER_BYTES:
        raise LoraFileError(
            _("The file's header claims %(bytes)s bytes (at most %(max)s here): it is not a valid .safetensors LoRA.")
            % {"bytes": header_bytes, "max": MAX_HEADER_BYTES}
        )
    if 8 + header_bytes > size:
        raise LoraFileError(_("The file ends inside its safetensors header: it is truncated. Upload the whole file."))
    raw = fileobj.read(header_bytes)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise LoraFileError(
            _("The file's safetensors header is not valid JSON: it is not a .safetensors LoRA.")
        ) from None
    if not isinstance(header, dict):
        raise LoraFileError(_("The file's safetensors header is not a JSON object: it is not a .safetensors LoRA."))
    header.pop("__metadata__", None)
    data_start, data_bytes = 8 + header_bytes, size - 8 - header_bytes
    spans: list[tuple[int, int]] = []
    for name, entry in header.items():
        if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
            raise LoraFileError(
                _("Tensor %(name)s has no dtype, shape and offsets: the file is not valid safetensors.")
                % {"name": repr(name)}
            )
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in DTYPES:
            raise LoraFileError(
                _("Tensor %(name)s is %(dtype)s; LoRA weights are floating point (F16, BF16 or F32).")
                % {"name": repr(name), "dtype": dtype}
            )
        valid_shape = isinstance(shape, list) and all(isinstance(n, int) and n >= 0 for n in shape)
        valid_offsets = isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(n, int) for n in offsets)
        if not valid_shape or not valid_offsets:
            raise LoraFileError(
                _("Tensor %(name)s has an invalid shape or offsets: the file is not valid safetensors.")
                % {"name": repr(name)}
            )
        numel = 1
        for n in shape:
            numel *= n
        begin, end = offsets
        if not 0 <= begin <= end <= data_bytes or end - begin != numel * DTYPE_BYTES[dtype]:
            raise LoraFileError(
                _("Tensor %(name)s lies outside the file: it is truncated or not valid safetensors.")
                % {"name": repr(name)}
            )
        spans.append((begin, end))
    position = 0
    for begin, end in sorted(spans):
        if begin != position:
            raise LoraFileError(_("The file's tensors overlap or leave gaps: it is not valid safetensors."))
        position = end
    if position != data_bytes:
        raise LoraFileError(_("The file's size does not match its header: it is truncated or not valid safetensors."))
    if not header:
        raise LoraFileError(_("The file holds no tensors."))
    return header, data_start, size


def _as_tensors(fileobj: BinaryIO, header: dict[str, dict[str, Any]], data_start: int) -> dict[str, Any]:
    """Meta tensors of the header's shapes (nothing allocated), except one-number tensors (kohya's alphas, which
    diffusers' conversion reads as numbers): those are read, a few bytes each."""
    import torch

    tensors: dict[str, Any] = {}
    for name, entry in header.items():
        dtype = getattr(torch, DTYPES[entry["dtype"]])
        begin, end = entry["data_offsets"]
        if end - begin <= DTYPE_BYTES[entry["dtype"]]:
            fileobj.seek(data_start + begin)
            value = torch.frombuffer(bytearray(fileobj.read(end - begin)) or bytearray(1), dtype=torch.uint8)
            tensors[name] = value[: end - begin].view(dtype).reshape(entry["shape"]).clone()
        else:
            tensors[name] = torch.empty(entry["shape"], dtype=dtype, device="meta")
    return tensors


# --- the base model's layers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    in_features: int
    out_features: int
    kernel: tuple[int, ...] | None  # a convolution's kernel size; None for a linear layer


@dataclass(frozen=True)
class Architecture:
    layers: dict[str, dict[str, Layer]]  # component -> module name -> its shape
    unet_config: Any  # SDXL's UNet config (kohya's SGM block names are mapped with it), else None
    flattened_text_model: dict[str, bool]  # text encoder -> whether it has no `text_model` attribute


def deployment_architecture() -> str:
    """'tiny' or 'real': the weights the worker will run, decided as `backends.build_backend` decides."""
    from django.conf import settings

    choice = settings.DIFFUSION_BACKEND
    if choice in ("tiny", "diffusers"):
        return "tiny" if choice == "tiny" else "real"
    import torch

    from .backends import weights_available

    return "real" if torch.cuda.is_available() and weights_available(Z_IMAGE_TURBO) else "tiny"


@cache
def architecture(model: str, kind: str) -> Architecture:
    """The linear and convolution layers of the model's LoRA-loadable components: the tiny pipelines' (built on
    the CPU, a fraction of a second) or the published configs' (on the meta device, nothing allocated)."""
    import torch

    if kind == "tiny":
        from .tiny import build_tiny_sdxl, build_tiny_z_image

        pipeline = (build_tiny_z_image if model == Z_IMAGE_TURBO else build_tiny_sdxl)()
        modules = {name: getattr(pipeline, name) for name in COMPONENTS[model]}
    else:
        from .random_weights import build_modules

        modules = {name: m for name, m in build_modules(model, device="meta").items() if name in COMPONENTS[model]}
    layers: dict[str, dict[str, Layer]] = {}
    for component, module in modules.items():
        table: dict[str, Layer] = {}
        for name, child in module.named_modules():
            if isinstance(child, torch.nn.Linear):
                table[name] = Layer(child.in_features, child.out_features, None)
            elif isinstance(child, torch.nn.Conv2d):
                table[name] = Layer(child.in_channels, child.out_channels, tuple(child.kernel_size))
        layers[component] = table
    unet = modules.get("unet")
    return Architecture(
        layers=layers,
        unet_config=unet.config if unet is not None else None,
        flattened_text_model={n: not hasattr(modules[n], "text_model") for n in modules if n in TEXT_ENCODERS},
    )


def _diffusers_keys(model: str, tensors: dict[str, Any], arch: Architecture) -> dict[str, dict[str, Any]]:
    """The state dict as diffusers' loaders convert it, split by component (prefix removed), in peft names."""
    import diffusers
    from diffusers.utils import (
        convert_state_dict_to_diffusers,
        convert_state_dict_to_peft,
        convert_unet_state_dict_to_peft,
    )

    try:
        if model == Z_IMAGE_TURBO:
            converted = diffusers.ZImagePipeline.lora_state_dict(dict(tensors))
        else:
            converted, _alphas = diffusers.StableDiffusionXLPipeline.lora_state_dict(
                dict(tensors), unet_config=arch.unet_config
            )
    except Exception as error:  # diffusers' converters raise ValueError, KeyError, IndexError... on foreign names
        raise LoraFileError(
            _("The file's tensor names are not a LoRA that diffusers can read for %(model)s (%(error)s).")
            % {"model": MODELS[model].label, "error": error}
        ) from None
    by_component: dict[str, dict[str, Any]] = {}
    leftover = [key for key in converted if key.split(".", 1)[0] not in COMPONENTS[model]]
    other = next(
        (
            m
            for m, parts in COMPONENTS.items()
            if m != model and leftover and all(key.split(".", 1)[0] in parts for key in leftover)
        ),
        None,
    )
    if other is not None:
        raise LoraFileError(
            _("This LoRA was made for %(other)s, not %(model)s: choose %(other)s as its base model.")
            % {"other": MODELS[other].label, "model": MODELS[model].label}
        )
    if leftover:
        raise LoraFileError(
            _("These tensors fit no part of %(model)s: %(tensors)s. Is it a LoRA for %(model)s?")
            % {"model": MODELS[model].label, "tensors": ", ".join(sorted(leftover)[:3])}
        )
    for component in COMPONENTS[model]:
        part = {k.removeprefix(f"{component}."): v for k, v in converted.items() if k.startswith(f"{component}.")}
        if not part:
            continue
        if "lora_A" not in next(iter(part)):  # the older formats, converted as the loaders do
            if component in TEXT_ENCODERS:
                part = convert_state_dict_to_peft(convert_state_dict_to_diffusers(part))
            else:
                part = convert_unet_state_dict_to_peft(part)
        if arch.flattened_text_model.get(component):
            part = {k.removeprefix("text_model."): v for k, v in part.items()}
        by_component[component] = part
    return by_component


def check_lora_file(fileobj: BinaryIO, *, base_model: str, max_bytes: int) -> LoraSummary:
    """Whether the file is a LoRA for `base_model` that this deployment can load, from its header alone.

    Raises LoraFileError with a sentence a user can act on. Leaves the file positioned at its start.
    """
    return check_lora_for(fileobj, base_model=base_model, max_bytes=max_bytes, kind=deployment_architecture())


def check_lora_for(fileobj: BinaryIO, *, base_model: str, max_bytes: int, kind: str) -> LoraSummary:
    """`check_lora_file` against the tiny ("tiny") or published ("real") architecture: what a worker asks of the
    pipelines it runs."""
    if base_model not in COMPONENTS:
        raise LoraFileError(
            _("Styles exist for %(models)s only.") % {"models": ", ".join(m.label for m in MODELS.values())}
        )
    label = MODELS[base_model].label
    try:
        header, data_start, _size = read_header(fileobj, max_bytes=max_bytes)
        tensors = _as_tensors(fileobj, header, data_start)
    finally:
        fileobj.seek(0)
    arch = architecture(base_model, kind)
    ranks: list[int] = []
    targets: list[str] = []
    layers = 0
    for component, part in _diffusers_keys(base_model, tensors, arch).items():
        table = arch.layers[component]
        pairs: dict[str, dict[str, Any]] = {}
        targets.append(component)
        for key, tensor in part.items():
            match = LORA_KEY.match(key)
            if match is None:
                raise LoraFileError(
                    _("Tensor %(name)s is not a LoRA weight (lora_A/lora_B) of %(model)s.")
                    % {"name": f"{component}.{key}", "model": label}
                )
            pairs.setdefault(match["module"], {})[match["part"]] = tensor
        for module, weights in pairs.items():
            layer = table.get(module)
            if layer is None:
                raise LoraFileError(
                    _("%(layer)s is not a layer of %(model)s: this LoRA was made for another model.")
                    % {"layer": f"{component}.{module}", "model": label}
                )
            down, up = weights.get("lora_A.weight"), weights.get("lora_B.weight")
            if down is None or up is None:
                raise LoraFileError(
                    _("%(layer)s has only half of its LoRA pair (lora_A and lora_B).")
                    % {"layer": f"{component}.{module}"}
                )
            rank = int(down.shape[0]) if down.dim() else 0
            tail = (*layer.kernel,) if layer.kernel else ()
            up_tail = (1, 1) if layer.kernel else ()
            expected_down, expected_up = (rank, layer.in_features, *tail), (layer.out_features, rank, *up_tail)
            if rank < 1 or tuple(down.shape) != expected_down or tuple(up.shape) != expected_up:
                raise LoraFileError(
                    _(
                        "%(layer)s has LoRA shapes %(down)s and %(up)s, but %(model)s's layer takes %(in)s and gives "
                        "%(out)s: this LoRA was made for another model or size."
                    )
                    % {
                        "layer": f"{component}.{module}",
                        "down": tuple(down.shape),
                        "up": tuple(up.shape),
                        "model": label,
                        "in": layer.in_features,
                        "out": layer.out_features,
                    }
                )
            ranks.append(rank)
            layers += 1
    if not layers:
        raise LoraFileError(_("The file holds no LoRA layers for %(model)s.") % {"model": label})
    dtypes = sorted({entry["dtype"] for entry in header.values()})
    return LoraSummary(
        rank=max(ranks),
        tensors=len(header),
        layers=layers,
        targets=tuple(targets),
        dtype=dtypes[0] if len(dtypes) == 1 else "/".join(dtypes),
    )


# --- on the worker -------------------------------------------------------------------------------


def adapter_name(sha256: str) -> str:
    """The adapter's name in a pipeline: one per file content, whoever uploaded it under whatever name."""
    return f"style_{sha256[:16]}"


def adapter_bytes(pipeline: Any, name: str) -> int:
    """Bytes of one adapter's LoRA weights across the pipeline's components (what its cache entry costs)."""
    total = 0
    for component in COMPONENTS.get(_model_of(pipeline), ()):
        module = getattr(pipeline, component, None)
        if module is None:
            continue
        for layer in module.modules():
            for part in ("lora_A", "lora_B"):
                weights = getattr(layer, part, None)
                if weights is not None and name in weights:
                    total += sum(p.numel() * p.element_size() for p in weights[name].parameters())
    return total


def _model_of(pipeline: Any) -> str:
    return Z_IMAGE_TURBO if hasattr(pipeline, "transformer") else SDXL


def _set_enabled(pipeline: Any, enabled: bool) -> None:
    """Every LoRA layer of every component on or off (diffusers' pipeline-wide switch raises for a component
    that holds no adapter, such as SDXL's second text encoder under a UNet-only style)."""
    from diffusers.utils.peft_utils import set_adapter_layers

    for component in COMPONENTS[_model_of(pipeline)]:
        module = getattr(pipeline, component, None)
        if module is not None:
            set_adapter_layers(module, enabled=enabled)


@dataclass
class CachedAdapter:
    model: str
    name: str
    bytes: int
    pipeline: Any  # the model's pipeline holding it (dropped with the model: StyleAdapters.forget_model)


class StyleAdapters:
    """The LoRA adapters a worker process keeps loaded, least recently used first, within a count and a size."""

    def __init__(self, *, max_adapters: int, max_bytes: int, kind: str) -> None:
        self.max_adapters = max_adapters
        self.max_bytes = max_bytes
        self.kind = kind  # the architecture the pipelines have: what a style file is checked against
        self._entries: OrderedDict[tuple[str, str], CachedAdapter] = OrderedDict()

    @property
    def used_bytes(self) -> int:
        return sum(entry.bytes for entry in self._entries.values())

    def cached(self) -> list[tuple[str, str]]:
        """(model, adapter name) of each loaded adapter, least recently used first."""
        return list(self._entries)

    def apply(
        self, pipeline: Any, model: str, styles: Iterable[LoraStyle], *, grow: Callable[[Callable[[Any], Any]], Any]
    ) -> None:
        """The request's styles active at their weights (loaded first where needed), every other adapter off;
        no styles: every adapter off, so the pipeline draws as if none had ever been loaded.

        `grow(load)` runs `load(pipeline)` through the model pool, which counts the new weights in the model's size.
        Raises StyleUnavailable for a style that cannot be loaded; the pipeline is left without it.
        """
        styles = list(styles)
        if not styles:
            if any(entry.model == model for entry in self._entries.values()):
                _set_enabled(pipeline, False)
            return
        names = [self._loaded(pipeline, model, style, grow=grow) for style in styles]
        self._evict(keep={(model, name) for name in names})
        _set_enabled(pipeline, True)
        pipeline.set_adapters(names, adapter_weights=[style.weight for style in styles])

    def _loaded(
        self, pipeline: Any, model: str, style: LoraStyle, *, grow: Callable[[Callable[[Any], Any]], Any]
    ) -> str:
        name = adapter_name(style.sha256)
        key = (model, name)
        if key in self._entries:
            self._entries.move_to_end(key)
            return name
        path = Path(style.path)
        try:
            with path.open("rb") as file:
                check_lora_for(file, base_model=model, max_bytes=path.stat().st_size, kind=self.kind)
        except OSError as error:
            raise StyleUnavailable(f"Style {style.name!r} is not readable on the worker ({error}).") from error
        except LoraFileError as error:
            raise StyleUnavailable(f"Style {style.name!r} cannot be used with {MODELS[model].label}: {error}") from None
        started = time.perf_counter()

        def load(target: Any) -> None:
            target.load_lora_weights(str(path), adapter_name=name)

        try:
            grow(load)
        except Exception as error:  # a file that passed the header check but not peft: unusable all the same
            message = f"Style {style.name!r} could not be loaded ({type(error).__name__}: {error})."
            raise StyleUnavailable(message, intact=self._discard(pipeline, name)) from error
        entry = CachedAdapter(model=model, name=name, bytes=adapter_bytes(pipeline, name), pipeline=pipeline)
        self._entries[key] = entry
        logger.info(
            "style loaded",
            extra={
                "model": model,
                "adapter": name,
                "bytes": entry.bytes,
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
        return name

    def _evict(self, *, keep: set[tuple[str, str]]) -> None:
        """Delete least recently used adapters (never those in `keep`) until the count and size fit."""
        while len(self._entries) > self.max_adapters or self.used_bytes > self.max_bytes:
            victim = next((key for key in self._entries if key not in keep), None)
            if victim is None:
                logger.warning(
                    "a job's styles exceed the style cache, kept loaded for it",
                    extra={"adapters": len(self._entries), "bytes": self.used_bytes, "budget": self.max_bytes},
                )
                return
            entry = self._entries.pop(victim)
            entry.pipeline.delete_adapters(entry.name)
            logger.info("style evicted", extra={"model": entry.model, "adapter": entry.name, "bytes": entry.bytes})

    @staticmethod
    def _discard(pipeline: Any, name: str) -> bool:
        """What a failed load left of an adapter, removed (diffusers may have injected layers before failing);
        False when that did not work either."""
        try:
            listed = {adapter for names in pipeline.get_list_adapters().values() for adapter in names}
            if name in listed:
                pipeline.delete_adapters(name)
            return adapter_bytes(pipeline, name) == 0
        except Exception:
            logger.exception("a failed style load could not be undone", extra={"adapter": name})
            return False

    def forget_model(self, model: str) -> None:
        """The model's pipeline was released: its adapters went with it."""
        for key in [key for key in self._entries if key[0] == model]:
            del self._entries[key]
