"""Writes for styles and brand kits, and what a job takes from them at submit (the styles' snapshot, the prompt
fragments). Every write is checked before anything is stored: a refusal is a ValidationError keyed by field.

Files: a style's `.safetensors` and a kit's re-encoded logo PNG go to the default storage under random keys that
name no user (`styles/<hex>.safetensors`, `brand-logos/<hex>.png`); they are read only by the worker and staff.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils.translation import gettext as _
from PIL import ImageColor

from accounts.selectors import tier_limits
from accounts.services import lock_account
from core.errors import DomainError
from gallery.services import delete_stored
from gallery.uploads import clean_uploaded_image
from generation.engine.models_catalog import MODELS

from . import selectors
from .models import (
    MAX_PALETTE_COLOURS,
    MAX_STYLE_WEIGHT,
    MAX_STYLES_PER_JOB,
    MIN_STYLE_WEIGHT,
    BrandKit,
    LogoApply,
    LogoCorner,
    Style,
)

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

STYLE_SUFFIX = ".safetensors"
# A logo is composited at most at half the width of a 2048-pixel image; a larger one only costs decoding time.
LOGO_MAX_PIXELS = 4096 * 4096
HEX_COLOUR = re.compile(r"#[0-9a-f]{6}")
_HASH_CHUNK = 1024 * 1024


class StyleInUse(DomainError):
    """409: a queued or running job still loads this style; delete it once the job is done."""

    status_code = 409
    code = "style_in_use"


class StyleNotFound(DomainError):
    """404 naming the field: a style id that is none of the public library's or the owner's (another user's
    private style reads the same), as a job's source_image is answered."""

    status_code = 404
    code = "not_found"

    def __init__(self, field: str, style_id: object):
        self.field = field
        self.message = _("No such style: %(id)s.") % {"id": style_id}
        super().__init__(f"{field}: {self.message}")

    def details(self) -> dict[str, object]:
        return {"fields": {self.field: [self.message]}}


class BrandKitNotFound(DomainError):
    """404 naming the field: none of the owner's brand kits (another user's reads the same)."""

    status_code = 404
    code = "not_found"

    def __init__(self, field: str = "brand_kit"):
        self.field = field
        self.message = _("No such brand kit.")
        super().__init__(f"{field}: {self.message}")

    def details(self) -> dict[str, object]:
        return {"fields": {self.field: [self.message]}}


# --- shared checks ---------------------------------------------------------------------------------


def _words(value: Any, field: str, max_length: int) -> str:
    """Comma-separated words, each stripped: "bold ,  warm" -> "bold, warm"."""
    if not isinstance(value, str):
        raise ValidationError({field: _("Must be text.")})
    words = ", ".join(word.strip() for word in value.split(",") if word.strip())
    if len(words) > max_length:
        raise ValidationError({field: _("At most %(n)s characters.") % {"n": max_length}})
    if "\x00" in words:
        raise ValidationError({field: _("Null characters are not allowed.")})
    return words


def _name(value: Any) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name:
        raise ValidationError({"name": _("Give it a name.")})
    if len(name) > 100:
        raise ValidationError({"name": _("At most %(n)s characters.") % {"n": 100}})
    return name


def _weight(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError({field: _("The weight must be a number.")})
    if not MIN_STYLE_WEIGHT <= value <= MAX_STYLE_WEIGHT:
        raise ValidationError({field: _("The weight must be between %(low)s and %(high)s.") % {"low": -2, "high": 2}})
    return float(value)


def _after_commit_delete(*keys: str) -> None:
    names = [key for key in keys if key]
    if names:
        transaction.on_commit(lambda: delete_stored(*names))


def _stored(prefix: str, suffix: str, content: File) -> str:
    return default_storage.save(f"{prefix}/{uuid.uuid4().hex}{suffix}", content)


# --- styles ----------------------------------------------------------------------------------------


def style_max_bytes() -> int:
    return int(settings.STYLE_MAX_UPLOAD_MB * 1024 * 1024)


def _style_name_taken(name: str) -> str:
    return _("You already have a style named %(name)s.") % {"name": name}


def _check_style_name(*, owner: User | None, name: str, exclude: int | None = None) -> None:
    """Unique per owner, ignoring case; the public library is one namespace (PostgreSQL would let NULL owners
    repeat a name past the constraint)."""
    same = Style.objects.annotate(lower=Lower("name")).filter(lower=name.lower())
    same = same.filter(owner__isnull=True) if owner is None else same.filter(owner=owner)
    if exclude is not None:
        same = same.exclude(pk=exclude)
    if same.exists():
        raise ValidationError({"name": _style_name_taken(name)})


def _checked_style_file(file: BinaryIO, base_model: str) -> tuple[int, str]:
    """The upload's size and sha256, once its header shows a safetensors LoRA for `base_model`."""
    name = str(getattr(file, "name", "") or "")
    if name and not name.lower().endswith(STYLE_SUFFIX):
        raise ValidationError({"file": _("Upload a .safetensors file (a LoRA); other formats are refused.")})
    max_bytes = style_max_bytes()
    size = getattr(file, "size", None)
    if size is not None and size > max_bytes:
        raise ValidationError({"file": _("The file is larger than %(mb)s MB.") % {"mb": settings.STYLE_MAX_UPLOAD_MB}})
    from generation.engine.diffusion.lora import LoraFileError, check_lora_file  # the engine's, when first needed

    file.seek(0)
    try:
        check_lora_file(file, base_model=base_model, max_bytes=max_bytes)
    except LoraFileError as error:
        raise ValidationError({"file": str(error)}) from None
    file.seek(0)
    digest, size = hashlib.sha256(), 0
    while chunk := file.read(_HASH_CHUNK):
        digest.update(chunk)
        size += len(chunk)
        if size > max_bytes:  # a stream that announced no size
            raise ValidationError(
                {"file": _("The file is larger than %(mb)s MB.") % {"mb": settings.STYLE_MAX_UPLOAD_MB}}
            )
    file.seek(0)
    return size, digest.hexdigest()


def _check_private_style_room(owner: User, *, lock: bool) -> None:
    """Before the upload is read, and again under the owner's row lock, so two uploads at once cannot both take
    the last place."""
    locked = lock_account(owner.pk) if lock else owner
    limit = tier_limits(locked.tier).max_private_styles
    if Style.objects.filter(owner=owner).count() >= limit:
        if limit == 0:
            message = _("Your %(plan)s plan uses the public style library only; upgrade to upload your own styles.")
        else:
            message = _("Your %(plan)s plan holds %(limit)s private styles; delete one to upload another.")
        raise ValidationError({"file": message % {"plan": locked.get_tier_display(), "limit": limit}})


def style_create(
    *,
    owner: User | None,
    name: str,
    base_model: str,
    file: BinaryIO,
    trigger_words: str = "",
    default_weight: float = 1.0,
) -> Style:
    """A private style of `owner` (or, with owner None, one for everyone's library: staff only, through admin).

    The upload must be a `.safetensors` LoRA whose tensors fit `base_model`'s layout (its header is read, never
    its tensors); it is stored privately, the row recorded, all or nothing.
    """
    name = _name(name)
    if base_model not in MODELS:
        raise ValidationError({"base_model": _("Choose one of: %(models)s.") % {"models": ", ".join(MODELS)}})
    trigger_words = _words(trigger_words, "trigger_words", 300)
    default_weight = _weight(default_weight, "default_weight")
    _check_style_name(owner=owner, name=name)
    if owner is not None:
        _check_private_style_room(owner, lock=False)
    size, sha256 = _checked_style_file(file, base_model)
    with transaction.atomic():
        if owner is not None:
            _check_private_style_room(owner, lock=True)
        key = _stored("styles", STYLE_SUFFIX, File(file))
        try:
            with transaction.atomic():
                style = Style.objects.create(
                    owner=owner,
                    name=name,
                    base_model=base_model,
                    file=key,
                    file_size=size,
                    sha256=sha256,
                    trigger_words=trigger_words,
                    default_weight=default_weight,
                )
        except BaseException as error:
            delete_stored(key)
            if isinstance(error, IntegrityError):  # the same name, created meanwhile
                raise ValidationError({"name": _style_name_taken(name)}) from None
            raise
    logger.info("style created", extra={"user_id": owner.pk if owner else None, "style_id": style.pk})
    return style


JOB_MODEL = ("generation", "GenerationJob")
STYLE_FIELDS = frozenset({"name", "trigger_words", "default_weight"})


def style_update(*, style: Style, **fields: Any) -> Style:
    """Its name, trigger words or default weight; the file and base model stay (upload a new style instead)."""
    unknown = set(fields) - STYLE_FIELDS
    if unknown:
        raise TypeError(f"A style does not take {', '.join(sorted(unknown))} here.")
    if "name" in fields:
        style.name = _name(fields["name"])
        _check_style_name(owner=style.owner, name=style.name, exclude=style.pk)
    if "trigger_words" in fields:
        style.trigger_words = _words(fields["trigger_words"], "trigger_words", 300)
    if "default_weight" in fields:
        style.default_weight = _weight(fields["default_weight"], "default_weight")
    try:
        with transaction.atomic():
            style.save()
    except IntegrityError:
        raise ValidationError({"name": _style_name_taken(style.name)}) from None
    return style


def style_delete(*, style: Style) -> None:
    """The row now and its file once committed; refused while an unfinished job still loads it. Finished jobs keep
    their snapshot (name, weight, sha256), so their images still say which style made them."""
    jobs = Style._meta.apps.get_model(*JOB_MODEL)._default_manager  # generation sits above brands: found by name
    unfinished = (
        jobs.filter(finished_at__isnull=True, styles__contains=[{"id": style.pk}]).values_list("pk", flat=True).first()
    )
    if unfinished is not None:
        raise StyleInUse(_("Job %(job)s still uses this style; delete it when the job is done.") % {"job": unfinished})
    with transaction.atomic():
        key = str(style.file.name)
        style.delete()
        _after_commit_delete(key)
    logger.info("style deleted", extra={"user_id": style.owner_id, "style_id": style.pk})


# --- what a job takes from its styles -----------------------------------------------------------------


def _requested(requested: Any, field: str) -> list[tuple[Any, Any]]:
    """[(id, weight or None)] from `[{"id", "weight"?}]`, at most MAX_STYLES_PER_JOB, each style once."""
    if not isinstance(requested, list | tuple):
        raise ValidationError({field: _('A list of {"id", "weight"} objects.')})
    if len(requested) > MAX_STYLES_PER_JOB:
        raise ValidationError(
            {field: _("At most %(n)s styles at once (got %(got)s).") % {"n": MAX_STYLES_PER_JOB, "got": len(requested)}}
        )
    pairs = []
    for item in requested:
        if not isinstance(item, Mapping) or set(item) - {"id", "weight"} or "id" not in item:
            raise ValidationError({field: _('Each style is an object {"id", "weight"}.')})
        style_id = item["id"]
        if isinstance(style_id, bool) or not isinstance(style_id, int):
            raise ValidationError({field: _("A style's id is a whole number.")})
        weight = item.get("weight")
        pairs.append((style_id, None if weight is None else _weight(weight, field)))
    if len({style_id for style_id, _weight_ in pairs}) != len(pairs):
        raise ValidationError({field: _("Name each style once.")})
    return pairs


def _model_label(name: str) -> str:
    return MODELS[name].label if name in MODELS else name


def snapshot(style: Style, weight: float) -> dict[str, Any]:
    """What a job records of one style it uses (GenerationJob.styles), and what the worker loads."""
    return {
        "id": style.pk,
        "name": style.name,
        "weight": weight,
        "trigger_words": style.trigger_words,
        "file": str(style.file.name),
        "sha256": style.sha256,
        "base_model": style.base_model,
    }


def resolve_styles(
    *, owner: User | None, requested: Any, base_model: str | None, field: str = "styles"
) -> list[dict[str, Any]]:
    """The job's styles as it will store them (the snapshot, in the order they apply), from `[{"id", "weight"}]`.

    Up to three, each once, weights within -2..2 (a missing weight is the style's default_weight), each one the
    public library's or `owner`'s (None: the public library only; another's private style is a 404 on `field`),
    and made for `base_model` (None: any) -- else a ValidationError on `field`.
    """
    pairs = _requested(requested, field)
    found = {style.pk: style for style in selectors.styles_visible_to(user=owner).filter(pk__in=[p for p, _w in pairs])}
    resolved = []
    for style_id, weight in pairs:
        style = found.get(style_id)
        if style is None:
            raise StyleNotFound(field, style_id)
        if base_model is not None and style.base_model != base_model:
            raise ValidationError(
                {
                    field: _("The style %(name)s is made for %(style_model)s; this job draws with %(model)s.")
                    % {
                        "name": style.name,
                        "style_model": _model_label(style.base_model),
                        "model": _model_label(base_model),
                    }
                }
            )
        resolved.append(snapshot(style, style.default_weight if weight is None else weight))
    return resolved


# --- brand kits ------------------------------------------------------------------------------------


def _palette(value: Any) -> list[str]:
    """Up to eight `#rrggbb` colours, lower-case, each once, in the order given."""
    if not isinstance(value, list | tuple):
        raise ValidationError({"palette": _("A list of colours as #rrggbb.")})
    colours: list[str] = []
    for item in value:
        colour = item.strip().lower() if isinstance(item, str) else ""
        if not HEX_COLOUR.fullmatch(colour):
            raise ValidationError({"palette": _("%(value)s is not a colour as #rrggbb.") % {"value": str(item)[:20]}})
        if colour not in colours:
            colours.append(colour)
    if len(colours) > MAX_PALETTE_COLOURS:
        raise ValidationError({"palette": _("At most %(n)s colours.") % {"n": MAX_PALETTE_COLOURS}})
    return colours


def style_choices(*, owner: User, requested: Any, field: str = "styles") -> list[dict[str, Any]]:
    """Styles a kit or a story keeps for its jobs, checked as a job's are but for any base model (the job's model
    is checked when it is submitted), as [{"id", "weight"}]; another user's private style is a field error."""
    try:
        resolved = resolve_styles(owner=owner, requested=list(requested), base_model=None, field=field)
    except StyleNotFound as error:
        raise ValidationError({field: error.message}) from None
    except TypeError:
        raise ValidationError({field: _('A list of {"id", "weight"} objects.')}) from None
    return [{"id": style["id"], "weight": style["weight"]} for style in resolved]


def _logo_png(logo: IO[bytes] | bytes) -> bytes:
    try:
        return clean_uploaded_image(logo, max_pixels=LOGO_MAX_PIXELS)
    except ValidationError as error:
        raise ValidationError({"logo": error.messages}) from None


def _check_kit_name(*, owner: User, name: str, exclude: int | None = None) -> None:
    same = BrandKit.objects.annotate(lower=Lower("name")).filter(owner=owner, lower=name.lower())
    if exclude is not None:
        same = same.exclude(pk=exclude)
    if same.exists():
        raise ValidationError({"name": _("You already have a brand kit named %(name)s.") % {"name": name}})


KIT_FIELDS = frozenset(
    {
        "name",
        "palette",
        "tone_words",
        "avoid_words",
        "default_styles",
        "logo",
        "logo_corner",
        "logo_margin",
        "logo_scale",
        "logo_opacity",
        "logo_apply",
    }
)


def _apply_kit_fields(kit: BrandKit, fields: dict[str, Any]) -> bytes | None:
    """Set the checked fields on `kit` (unsaved); the new logo's PNG when one was given."""
    if "name" in fields:
        kit.name = _name(fields["name"])
        _check_kit_name(owner=kit.owner, name=kit.name, exclude=kit.pk)
    if "palette" in fields:
        kit.palette = _palette(fields["palette"])
    for word_field in ("tone_words", "avoid_words"):
        if word_field in fields:
            setattr(kit, word_field, _words(fields[word_field], word_field, 300))
    if "default_styles" in fields:
        kit.default_styles = style_choices(owner=kit.owner, requested=fields["default_styles"], field="default_styles")
    for name in ("logo_corner", "logo_margin", "logo_scale", "logo_opacity", "logo_apply"):
        if name in fields:
            setattr(kit, name, fields[name])
    png = None
    if fields.get("logo") is not None:
        png = _logo_png(fields["logo"])
    elif "logo" in fields:  # None: remove it
        kit.logo = ""
    try:
        kit.full_clean(exclude=["owner", "logo"], validate_constraints=False)
    except ValidationError as error:
        raise ValidationError(error.message_dict) from None
    if kit.logo_apply != LogoApply.NONE and not (png or kit.logo):
        raise ValidationError({"logo_apply": _("Upload a logo first: this kit has none.")})
    return png


def _check_kit_room(owner: User) -> None:
    locked = lock_account(owner.pk)
    limit = tier_limits(locked.tier).max_brand_kits
    if BrandKit.objects.filter(owner=owner).count() >= limit:
        raise ValidationError(
            {
                "name": _("Your %(plan)s plan holds %(limit)s brand kits; delete one to make another.")
                % {"plan": locked.get_tier_display(), "limit": limit}
            }
        )


def _save_kit(kit: BrandKit, png: bytes | None, *, check_room: bool) -> BrandKit:
    """Store the new logo (if any) and save the row in one transaction; the new file goes if the save fails, the
    replaced one once it commits."""
    with transaction.atomic():
        if check_room:
            _check_kit_room(kit.owner)
        replaced = str(kit.logo.name) if kit.pk and kit.logo else ""
        if kit.pk:
            replaced = str(BrandKit.objects.filter(pk=kit.pk).values_list("logo", flat=True).first() or "")
        key = _stored("brand-logos", ".png", ContentFile(png)) if png is not None else ""
        if key:
            kit.logo = key
        try:
            with transaction.atomic():
                kit.save()
        except BaseException as error:
            if key:
                delete_stored(key)
            if isinstance(error, IntegrityError):
                raise ValidationError(
                    {"name": _("You already have a brand kit named %(name)s.") % {"name": kit.name}}
                ) from None
            raise
        if replaced and replaced != str(kit.logo.name):
            _after_commit_delete(replaced)
    return kit


def brand_kit_create(
    *,
    owner: User,
    name: str,
    palette: Iterable[str] = (),
    tone_words: str = "",
    avoid_words: str = "",
    default_styles: Iterable[Mapping[str, Any]] = (),
    logo: IO[bytes] | bytes | None = None,
    logo_corner: str = LogoCorner.BOTTOM_RIGHT,
    logo_margin: float = 0.03,
    logo_scale: float = 0.15,
    logo_opacity: float = 1.0,
    logo_apply: str = LogoApply.NONE,
) -> BrandKit:
    """A brand kit of `owner`, within the plan's max_brand_kits; the logo (any image Pillow decodes, within the
    upload limits) stored as a fresh PNG that keeps its transparency."""
    kit = BrandKit(owner=owner)
    png = _apply_kit_fields(
        kit,
        {
            "name": name,
            "palette": list(palette),
            "tone_words": tone_words,
            "avoid_words": avoid_words,
            "default_styles": list(default_styles),
            "logo": logo,
            "logo_corner": logo_corner,
            "logo_margin": logo_margin,
            "logo_scale": logo_scale,
            "logo_opacity": logo_opacity,
            "logo_apply": logo_apply,
        },
    )
    kit = _save_kit(kit, png, check_room=True)
    logger.info("brand kit created", extra={"user_id": owner.pk, "brand_kit_id": kit.pk})
    return kit


def brand_kit_update(*, kit: BrandKit, **fields: Any) -> BrandKit:
    """Any of brand_kit_create's fields; `logo=None` removes the logo (refused while logo_apply uses it)."""
    unknown = set(fields) - KIT_FIELDS
    if unknown:
        raise TypeError(f"A brand kit does not take {', '.join(sorted(unknown))} here.")
    fresh = BrandKit.objects.get(pk=kit.pk)  # a refusal leaves the caller's object as it was
    png = _apply_kit_fields(fresh, fields)
    return _save_kit(fresh, png, check_room=False)


def brand_kit_delete(*, kit: BrandKit) -> None:
    """The kit and (once committed) its logo. Jobs that used it keep their images and lose the link."""
    with transaction.atomic():
        key = str(kit.logo.name) if kit.logo else ""
        kit.delete()
        _after_commit_delete(key)


# --- what a job takes from its brand kit -------------------------------------------------------------------


@functools.cache
def _css_colours() -> tuple[tuple[str, tuple[int, int, int]], ...]:
    """CSS's named colours (Pillow's table), an alias dropped where two names share a value (aqua, not cyan)."""
    seen: dict[tuple[int, int, int], str] = {}
    for name in sorted(ImageColor.colormap):
        rgb = ImageColor.getrgb(name)[:3]
        seen.setdefault((rgb[0], rgb[1], rgb[2]), name)
    return tuple((name, rgb) for rgb, name in seen.items())


def colour_name(hex_colour: str) -> str:
    """The nearest CSS colour name, by the "redmean" weighted RGB distance (close to how far apart people see
    two colours, without a colour-space conversion)."""
    red, green, blue = ImageColor.getrgb(hex_colour)[:3]

    def distance(entry: tuple[str, tuple[int, int, int]]) -> float:
        r, g, b = entry[1]
        mean = (red + r) / 2
        return (2 + mean / 256) * (red - r) ** 2 + 4 * (green - g) ** 2 + (2 + (255 - mean) / 256) * (blue - b) ** 2

    return min(_css_colours(), key=distance)[0]


def brand_prompt_fragments(*, kit: BrandKit | None) -> tuple[str, str]:
    """(positive, negative) prompt fragments of a brand kit, by one rule:

    - the palette's colours by their nearest CSS colour names, each once, then "colour palette"
      (["#1b2a4a", "#ff7f50", "#ffffff"] -> "midnightblue, coral and white colour palette");
    - the tone words after "tone: " ("tone: playful, confident");
    - positive: those two joined by ", " (appended to the job's enhanced prompt, after the path's and template's
      style words and the styles' trigger words); negative: the words to avoid (joined to the negative prompt).
    """
    if kit is None:
        return "", ""
    parts = []
    names = list(dict.fromkeys(colour_name(colour) for colour in kit.palette))
    if names:
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        parts.append(f"{listed} colour palette")
    if kit.tone_words.strip():
        parts.append(f"tone: {kit.tone_words.strip()}")
    return ", ".join(parts), kit.avoid_words.strip()


def job_styles(
    *,
    owner: User,
    base_model: str,
    styles: Sequence[Mapping[str, Any]] | None,
    template_styles: Sequence[Mapping[str, Any]] | None = None,
    story_styles: Sequence[Mapping[str, Any]] | None = None,
    kit: BrandKit | None = None,
) -> list[dict[str, Any]]:
    """A job's styles by precedence: its own (`styles`) if it names any, else its template's, else its story's,
    else its brand kit's default styles (those made for the job's model: a kit may hold styles for both).
    Errors name the field the styles came from (styles, template, brand_kit)."""
    if styles:
        return resolve_styles(owner=owner, requested=list(styles), base_model=base_model)
    if template_styles:  # a template's styles are the public library's
        return resolve_styles(owner=None, requested=list(template_styles), base_model=base_model, field="template")
    if story_styles:
        return resolve_styles(owner=owner, requested=list(story_styles), base_model=base_model)
    if kit is not None and kit.default_styles:
        resolved = resolve_styles(owner=owner, requested=list(kit.default_styles), base_model=None, field="brand_kit")
        return [style for style in resolved if style["base_model"] == base_model]
    return []


def job_apply_logo(*, kit: BrandKit | None, apply_logo: bool | None) -> bool:
    """Whether the kit's logo goes onto the job's images: the kit's `logo_apply` decides (all: always, none:
    never); `apply_logo` only for a kit whose logo is chosen per job (default: no)."""
    if kit is None:
        if apply_logo:
            raise ValidationError({"apply_logo": _("Choose a brand kit with a logo to put a logo on the images.")})
        return False
    if not kit.logo:
        return False
    if kit.logo_apply == LogoApply.PER_JOB:
        return bool(apply_logo)
    return kit.logo_apply == LogoApply.ALL


def with_brand(
    workflow: list[dict[str, Any]], *, styles: list[dict[str, Any]], kit: BrandKit | None
) -> list[dict[str, Any]]:
    """The job's node list with its styles' trigger words and its kit's fragments in the prompt_enhancement node:
    both after the path's and template's style words (so the job's enhanced prompt shows them), the kit's words to
    avoid as its `avoid_words` (joined to the job's negative prompt)."""
    positive, negative = brand_prompt_fragments(kit=kit)
    fragments = [style["trigger_words"] for style in styles if style["trigger_words"].strip()]
    fragments += [positive] if positive else []
    if not fragments and not negative:
        return workflow
    nodes = [dict(node) for node in workflow]
    for node in nodes:
        if node["node_type"] == "prompt_enhancement":
            parameters = dict(node.get("parameters", {}))
            parameters["style_prompts"] = [*parameters.get("style_prompts", []), *fragments]
            if negative:
                parameters["avoid_words"] = negative
            node["parameters"] = parameters
            return nodes
    parameters = {"style_prompts": fragments, **({"avoid_words": negative} if negative else {})}
    return [{"node_type": "prompt_enhancement", "parameters": parameters}, *nodes]


def brand_kit_for_job(*, user: User, kit_id: int | None, field: str = "brand_kit") -> BrandKit | None:
    """The kit a job request names by id: the user's own, else a 404 naming `field` (another user's alike)."""
    if kit_id is None:
        return None
    try:
        return selectors.brand_kit_get(user=user, kit_id=kit_id)
    except BrandKit.DoesNotExist:
        raise BrandKitNotFound(field) from None


def style_set_preview(*, style: Style, image: IO[bytes] | bytes) -> Style:
    """A preview picture for the style picker (staff set them for the public library): re-encoded PNG."""
    try:
        png = clean_uploaded_image(image)
    except ValidationError as error:
        raise ValidationError({"preview": error.messages}) from None
    replaced = str(style.preview.name) if style.preview else ""
    with transaction.atomic():
        style.preview = _stored("style-previews", ".png", ContentFile(png))
        style.save(update_fields=["preview", "updated_at"])
        _after_commit_delete(replaced)
    return style
