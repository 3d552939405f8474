"""The website's generate form: parses the page's fields, then lets `submit_job` decide what is allowed.

Field-level messages come from the same ValidationError dict the API answers with, so the page and the API
never disagree about what a valid job is.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.exceptions import AccountsError
from accounts.selectors import tier_limits
from brands.forms import BrandJobFields, brand_initial
from brands.services import BrandKitNotFound, StyleNotFound
from gallery.models import GeneratedImage, SourceImage
from gallery.selectors import find_source, live_images_for, signed_url
from gallery.services import delete_source_image, store_source_image
from templates_app.models import Template
from templates_app.selectors import listed_templates, template_for_jobs

from .credits import job_price
from .engine.job_input import JobMode
from .engine.models_catalog import (
    DEFAULT_MODEL,
    MAX_IMAGES_PER_JOB,
    MAX_PROMPT_LENGTH,
    MODEL_ALIASES,
    MODELS,
    SIZE_PRESETS,
    Z_IMAGE_TURBO,
)
from .engine.paths import DEFAULT_PATH, PATH_CHOICES, PATHS
from .engine.template_inputs import localized
from .engine.workflow import pipeline_requires_source, template_outpaint_anchor
from .image_input import DEFAULT_STRENGTH, MIN_STRENGTH, SourceNotFound, fitted_size
from .models import GenerationJob
from .services import (
    MAX_SEED,
    estimate_seconds,
    extend_image,
    input_values,
    job_model,
    job_size,
    submit_job_request,
    upscale_image,
    vary_image,
)

if TYPE_CHECKING:
    from accounts.models import User

SIZE_PRESET_LABELS = {
    "1:1": _("Square 1:1"),
    "16:9": _("Landscape 16:9"),
    "9:16": _("Portrait 9:16"),
    "4:3": _("Classic 4:3"),
    "instagram": _("Instagram post"),
    "facebook_cover": _("Facebook cover"),
}
OUTPAINT_ANCHOR_LABELS = {
    "center": _("In the centre"),
    "left": _("At the left"),
    "right": _("At the right"),
    "top": _("At the top"),
    "bottom": _("At the bottom"),
}
# Errors about fields the page does not show are reported on the field that decides them.
ERROR_FIELD_ALIASES = {"width": "size_preset", "height": "size_preset", "outpaint": "extend_to"}
MAX_MASK_DATA_URL = 12 * 1024 * 1024  # a painted mask's PNG data URL; the upload checks limit its pixels
RECENT_SOURCE_IMAGES = 24  # the gallery picker's choices (any of the user's own image ids is accepted)


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def size_preset_choices() -> list[tuple[str, str]]:
    return [("", _("Template default"))] + [
        (name, f"{SIZE_PRESET_LABELS.get(name, name)} · {width}\N{MULTIPLICATION SIGN}{height}")
        for name, (width, height) in SIZE_PRESETS.items()
    ]


ALIAS_OF = {full: alias for alias, full in MODEL_ALIASES.items()}
INPUT_PREFIX = "input_"  # a template input's form field: input_<name>


def model_choices() -> list[tuple[str, Any]]:
    """Each model with its limits, by its short name; empty: the template's model, else Z-Image-Turbo."""
    default = _("Default (the template's model, else %(model)s)") % {"model": MODELS[Z_IMAGE_TURBO].label}
    return [("", default)] + [
        (
            ALIAS_OF.get(name, name),
            _("%(model)s · up to %(steps)s steps, guidance up to %(guidance)s, %(low)s to %(high)s px")
            % {
                "model": model.label,
                "steps": model.max_steps,
                "guidance": f"{model.max_guidance:g}",
                "low": model.min_side,
                "high": model.max_side,
            },
        )
        for name, model in MODELS.items()
    ]


def template_input_groups(
    templates: Iterable[Template], *, chosen: str, data: Any, initial: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Each template's declared inputs as the page's fields, in the page's language: the chosen template's shown
    and enabled, the others hidden and disabled (so they are not sent) until the page's script swaps them."""
    language = get_language()
    groups = []
    for template in templates:
        declared = template.config.get("inputs") or {}
        if not declared:
            continue
        fields = []
        for name, spec in declared.items():
            key = INPUT_PREFIX + name
            given = data.get(key) if template.slug == chosen and key in data else initial.get(key)
            fields.append(
                {
                    "name": key,
                    "id": f"id_{key}_{template.slug}",
                    "label": localized(spec["label"], language),
                    "value": spec.get("default", "") if given is None else given,
                    "max_length": spec.get("max_length"),
                    "choices": [
                        (choice["value"], localized(choice["label"], language)) for choice in spec.get("choices", [])
                    ],
                }
            )
        groups.append({"slug": template.slug, "shown": template.slug == chosen, "fields": fields})
    return groups


def template_choices(templates) -> list[tuple[str, Any]]:
    """Templates grouped by production path, as <optgroup>s."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for template in templates:
        label = ngettext(
            "%(name)s · %(count)s credit/image", "%(name)s · %(count)s credits/image", template.credit_cost
        ) % {
            "name": template.display_name,
            "count": template.credit_cost,
        }
        groups.setdefault(template.get_production_path_display(), []).append((template.slug, label))
    return [("", _("No template (the path's defaults)")), *groups.items()]


class GenerateForm(BrandJobFields):
    template = forms.ChoiceField(required=False, label=_("Template"))
    production_path = forms.ChoiceField(
        required=False, choices=PATH_CHOICES, initial=DEFAULT_PATH, label=_("Production path")
    )
    prompt = forms.CharField(
        max_length=MAX_PROMPT_LENGTH,
        label=_("Prompt"),
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": _("A linen summer dress on a sunlit terrace")}),
        help_text=_("Describe the picture. The template adds its own style words."),
    )
    negative_prompt = forms.CharField(
        required=False,
        max_length=MAX_PROMPT_LENGTH,
        label=_("Negative prompt"),
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": _("blurry, low quality, watermark")}),
        help_text=_("What to keep out of the picture."),
    )
    size_preset = forms.ChoiceField(required=False, label=_("Size"), choices=size_preset_choices)
    num_images = forms.TypedChoiceField(
        coerce=int,
        choices=[(n, str(n)) for n in range(1, MAX_IMAGES_PER_JOB + 1)],
        initial=1,
        label=_("Number of images"),
    )
    seed = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_SEED,
        label=_("Seed"),
        help_text=_("Leave empty for a random seed; the same seed and settings draw the same picture."),
        widget=forms.NumberInput(attrs={"placeholder": _("Random"), "inputmode": "numeric"}),
    )
    steps = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=max(model.max_steps for model in MODELS.values()),
        label=_("Steps"),
        widget=forms.NumberInput(attrs={"placeholder": _("Default"), "inputmode": "numeric"}),
    )
    guidance = forms.FloatField(
        required=False,
        min_value=0,
        max_value=max(model.max_guidance for model in MODELS.values()),
        label=_("Guidance"),
        widget=forms.NumberInput(attrs={"placeholder": _("Default"), "step": "0.1", "inputmode": "decimal"}),
    )
    model = forms.ChoiceField(
        required=False,
        label=_("Model"),
        choices=model_choices,
        help_text=_("A template draws with its own model; steps, guidance and sizes follow the model's limits."),
    )
    # "Start from an image": an upload (stored first, in the same submit) or one of the user's own images.
    source_file = forms.ImageField(
        required=False,
        label=_("Upload an image"),
        help_text=_("PNG, JPEG or WebP. Drop it here or paste it; the job then starts from it."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
    source_image = forms.UUIDField(required=False, label=_("Or pick from my gallery"), widget=forms.Select)
    strength = forms.FloatField(
        required=False,
        min_value=MIN_STRENGTH,
        max_value=1.0,
        initial=DEFAULT_STRENGTH[JobMode.IMAGE],
        label=_("Strength"),
        help_text=_("How far the picture may move from your image: low keeps it, 1 redraws it freely."),
        widget=forms.NumberInput(attrs={"type": "range", "step": "0.05"}),
    )

    # The page's mask painter sends a PNG data URL (white = repaint); with it the job is an inpaint.
    mask = forms.CharField(required=False, widget=forms.HiddenInput, max_length=MAX_MASK_DATA_URL)
    # "Extend to": the source kept as it is on a larger canvas (an outpaint), the new area drawn around it.
    extend_to = forms.ChoiceField(
        required=False,
        label=_("Extend to"),
        choices=lambda: [("", _("Don't extend")), *size_preset_choices()[1:]],
        help_text=_("Keeps your image as it is on a canvas of this size and draws the new area around it."),
    )
    extend_anchor = forms.ChoiceField(
        required=False, label=_("Keep the image"), choices=list(OUTPAINT_ANCHOR_LABELS.items()), initial="center"
    )

    def __init__(self, *args: Any, user: User | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.init_brand_fields(user=user)  # the style picker and the brand kit selector (brands.forms)
        self.templates = list(listed_templates())
        self.fields["template"].choices = template_choices(self.templates)
        chosen_slug = str(self["template"].value() or "")
        self.input_groups = template_input_groups(
            self.templates, chosen=chosen_slug, data=self.data if self.is_bound else {}, initial=self.initial
        )
        self.recent_images = list(live_images_for(user)[:RECENT_SOURCE_IMAGES]) if user is not None else []
        choices = [("", _("No image: from text alone"))] + [
            (str(image.uuid), f"{image.job.prompt[:60]} · {image.width}\N{MULTIPLICATION SIGN}{image.height}")
            for image in self.recent_images
        ]
        chosen = str(self["source_image"].value() or "")
        self.chosen_source: SourceImage | GeneratedImage | None = None
        if chosen and chosen not in {value for value, _label in choices}:
            self.chosen_source = find_source(user, _as_uuid(chosen)) if user is not None and _as_uuid(chosen) else None
            mine = isinstance(self.chosen_source, GeneratedImage)
            choices.append((chosen, _("This image") if mine else _("The job's own source image")))
        self.fields["source_image"].widget.choices = choices

    def source_urls(self) -> dict[str, str]:
        """The picker's images as the mask painter draws over them (the prefilled one too, however old)."""
        images = [*self.recent_images, *([self.chosen_source] if self.chosen_source is not None else [])]
        return {str(image.uuid): signed_url(image.file.name) for image in images}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("source_file") and cleaned.get("source_image"):
            self.add_error("source_image", _("Upload an image or pick one from your gallery, not both."))
        self.clean_template_path(cleaned)
        return cleaned

    def clean_template(self) -> Template | None:
        slug = self.cleaned_data.get("template")
        if not slug:
            return None
        template = template_for_jobs(slug)
        if template is None:
            raise ValidationError(_("This template is not available any more."))
        return template

    def clean_template_path(self, cleaned: dict[str, Any]) -> None:
        template = cleaned.get("template")
        if template is not None and not cleaned.get("production_path"):
            cleaned["production_path"] = template.production_path

    def submit(self, *, user: User) -> GenerationJob | None:
        """The job, or None with the refusal added to this form's errors (nothing is stored then: an uploaded
        source is stored first and deleted again when the job is refused)."""
        data = self.cleaned_data
        upload: SourceImage | None = None
        try:
            if data.get("source_file"):
                upload = store_source_image(owner=user, file=data["source_file"], field="source_file")
            source = upload.uuid if upload is not None else data.get("source_image")
            outpaint = self.outpaint()
            return submit_job_request(
                user=user,
                prompt=data["prompt"],
                production_path=data.get("production_path") or None,
                template=data.get("template"),
                negative_prompt=data.get("negative_prompt") or None,
                size_preset=data.get("size_preset") or None,
                num_images=data.get("num_images") or 1,
                seed=data.get("seed"),
                steps=data.get("steps"),
                guidance=data.get("guidance"),
                model_name=data.get("model") or None,
                inputs=self.template_inputs(),
                source_image=source,
                strength=data.get("strength") if source is not None and not self.extends() else None,
                mask=data.get("mask") or None,
                outpaint=outpaint,
                **self.brand_request(),
            )
        except ValidationError as error:
            self.add_service_errors(error, upload=upload)
        except SourceNotFound as error:
            self.add_service_errors(ValidationError({error.field: _("No such image.")}), upload=upload)
        except (StyleNotFound, BrandKitNotFound) as error:  # deleted since the page was drawn
            self.add_service_errors(ValidationError({error.field: error.message}), upload=upload)
        except AccountsError as error:  # not enough credits, too many jobs in progress
            self.add_error(None, str(error))
        if upload is not None:
            delete_source_image(source=upload)
        return None

    def outpaint(self) -> dict[str, str] | None:
        """The API's `outpaint` field from the "Extend to" picker, or None when the image is not extended."""
        data = self.cleaned_data
        if not data.get("extend_to"):
            return None
        return {"size_preset": data["extend_to"], "anchor": data.get("extend_anchor") or "center"}

    def extends(self) -> bool:
        """An outpaint: the picker's, or the template's own canvas when nothing is painted (the slider's strength
        does not apply to either, so it is not sent)."""
        template = self.cleaned_data.get("template")
        extending_template = template is not None and template_outpaint_anchor(template.config) is not None
        return bool(self.cleaned_data.get("extend_to")) or (extending_template and not self.cleaned_data.get("mask"))

    def template_inputs(self) -> dict[str, str]:
        """The chosen template's inputs as the page sent them (the service checks them against the template)."""
        sent = self.data.items()
        return {key.removeprefix(INPUT_PREFIX): value for key, value in sent if key.startswith(INPUT_PREFIX)}

    def add_service_errors(self, error: ValidationError, *, upload: SourceImage | None = None) -> None:
        if not hasattr(error, "error_dict"):
            self.add_error(None, error.messages)
            return
        labels = {field["name"]: field["label"] for group in self.input_groups for field in group["fields"]}
        for field, messages in error.message_dict.items():
            if field.startswith("inputs."):  # a template input: named by its label, above the form
                label = labels.get(INPUT_PREFIX + field.removeprefix("inputs."), field.removeprefix("inputs."))
                self.add_error(None, [f"{label}: {message}" for message in messages])
                continue
            name = ERROR_FIELD_ALIASES.get(field, field)
            if name == "source_image" and upload is not None:
                name = "source_file"
            self.add_error(name if name in self.fields else None, messages)


def generate_page_data() -> dict[str, Any]:
    """What the page's script needs to show each template's limits, cost and time estimate (json_script)."""
    return {
        "templates": {
            template.slug: {
                "name": template.display_name,
                "path": template.production_path,
                "cost": template.credit_cost,
                "model": template.config.get("model", DEFAULT_MODEL),
                "defaults": template.default_values(),
                "overridable": template.overridable,
                "bounds": template.bounds,
                "max_images": template.max_images,
                "description": template.display_description,
                "requires_source": pipeline_requires_source(template.config.get("pipeline", [])),
                "extends": template_outpaint_anchor(template.config) is not None,
            }
            for template in listed_templates()
        },
        "paths": {
            name: {"width": path.default_size[0], "height": path.default_size[1]} for name, path in PATHS.items()
        },
        "models": {
            name: {
                "label": model.label,
                "default_steps": model.default_steps,
                "default_guidance": model.default_guidance,
                "max_steps": model.max_steps,
                "max_guidance": model.max_guidance,
                "seconds_per_step": model.seconds_per_step_estimate,
            }
            for name, model in MODELS.items()
        },
        "default_model": DEFAULT_MODEL,
        "model_aliases": MODEL_ALIASES,
        "presets": {name: list(size) for name, size in SIZE_PRESETS.items()},
    }


def initial_from_job(job: GenerationJob, *, seed: int | None = None) -> dict[str, Any]:
    """Form data that asks for the same picture again: only what the job's template lets a user set."""
    template = template_for_jobs(job.template.slug) if job.template_id else None
    allowed = set(template.overridable) if template else {"width", "height", "steps", "guidance", "seed"}
    if template is not None:
        defaults = template.default_values()
    else:
        model = MODELS.get(job.model, MODELS[DEFAULT_MODEL])
        defaults = {"steps": model.default_steps, "guidance": model.default_guidance}
    initial: dict[str, Any] = {
        "template": template.slug if template else "",
        "production_path": job.production_path,
        "prompt": job.prompt,
        "num_images": job.num_images,
    }
    if job.negative_prompt and (template is None or "negative_prompt" in allowed):
        initial["negative_prompt"] = job.negative_prompt
    if "seed" in allowed:
        initial["seed"] = job.seed if seed is None else seed
    default_size = (defaults.get("width"), defaults.get("height"))
    if template is None:
        default_size = PATHS[job.production_path].default_size if job.production_path in PATHS else (None, None)
    if {"width", "height"} <= allowed and (job.width, job.height) != tuple(default_size):
        initial["size_preset"] = next(
            (name for name, size in SIZE_PRESETS.items() if size == (job.width, job.height)), ""
        )
    if "steps" in allowed and job.steps != defaults.get("steps"):
        initial["steps"] = job.steps
    if "guidance" in allowed and job.guidance != defaults.get("guidance"):
        initial["guidance"] = job.guidance
    if template is None and job.model != DEFAULT_MODEL:
        initial["model"] = ALIAS_OF.get(job.model, job.model)
    if template is not None:  # its inputs as the job set them (the template's current declarations decide)
        initial.update({INPUT_PREFIX + name: value for name, value in input_values(job).items()})
    if job.mode == JobMode.IMAGE and (source := job.source_upload or job.source_image) is not None:
        initial.update(source_image=str(source.uuid), strength=job.strength)
    initial.update(brand_initial(job))
    return initial


def initial_from_image(image: GeneratedImage) -> dict[str, Any]:
    """Use these settings again: the job's request with this image's own seed, one image."""
    return {**initial_from_job(image.job, seed=image.seed), "num_images": 1}


def initial_for_edit(image: GeneratedImage) -> dict[str, Any]:
    """Edit region: the image's own request with the image itself as the source, for the mask painter. An inpaint
    keeps the source's size, so no size is prefilled; its strength starts at the inpaint default."""
    initial = {key: value for key, value in initial_from_image(image).items() if key != "size_preset"}
    return {**initial, "source_image": str(image.uuid), "strength": DEFAULT_STRENGTH[JobMode.INPAINT]}


class EstimateForm(GenerateForm):
    """The generate page's fields as they stand, priced before submit with the server's own rules (job_price,
    output_size, estimate_seconds): the page shows this, so it never keeps a second copy of them. An upload not
    yet sent is described by its pixel size; a painted mask by a flag."""

    source_width = forms.IntegerField(required=False, min_value=1, max_value=100_000)
    source_height = forms.IntegerField(required=False, min_value=1, max_value=100_000)
    mask = forms.BooleanField(required=False)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["prompt"].required = False
        self.fields["num_images"].required = False

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if (cleaned.get("source_width") is None) != (cleaned.get("source_height") is None):
            self.add_error("source_width", _("Give both the width and the height of the upload."))
        return cleaned

    def quote(self, *, user: User) -> dict[str, Any]:
        """What submit would reserve, the output size and mode, and the time: raises SourceNotFound for an image
        that is not the user's (a 404 like the submit's)."""
        data = self.cleaned_data
        template: Template | None = data.get("template")
        config = template.config if template is not None else {}
        model = job_model(template=template, model_name=data.get("model") or None)
        path = PATHS[data.get("production_path") or DEFAULT_PATH]
        source_size = None
        if data.get("source_image") is not None:
            source = find_source(user, data["source_image"])
            if source is None:
                raise SourceNotFound("source_image")
            source_size = (source.width, source.height)
        elif data.get("source_width"):
            source_size = (data["source_width"], data["source_height"])
        mode = JobMode.TEXT
        if source_size is not None:
            mode = JobMode.OUTPAINT if self.extends() else JobMode.INPAINT if data.get("mask") else JobMode.IMAGE
        # The submit's own size rule (services.job_size), with the source's fitted size as the submit finds it.
        preset = (data.get("extend_to") if mode == JobMode.OUTPAINT else None) or data.get("size_preset") or None
        dictated = None
        if source_size is not None and mode != JobMode.OUTPAINT:
            dictated = fitted_size(*source_size, model=model, max_side=tier_limits(user.tier).max_side)
        width, height = job_size(
            mode=mode,
            model=model,
            default=(config["width"], config["height"]) if "width" in config else path.default_size,
            dictated=dictated,
            size_preset=preset,
            width=None,
            height=None,
            canvas_fixed="width" in config,
        )
        count = data.get("num_images") or 1
        cost = job_price(
            mode=mode,
            per_image=template.credit_cost if template is not None else 1,
            num_images=count,
            width=width,
            height=height,
        )
        steps = data.get("steps") or config.get("steps", model.default_steps)
        sizing = GenerationJob(model=model.name, mode=mode, width=width, height=height, steps=steps, num_images=count)
        after = user.credit_balance - cost
        images = ngettext("%(count)s image", "%(count)s images", count) % {"count": count}
        return {
            "mode": str(mode),
            "cost": cost,
            "width": width,
            "height": height,
            "num_images": count,
            "steps": steps,
            "seconds": estimate_seconds(sizing),
            "balance_after": after,
            # Ready to show, in the user's language.
            "size_text": f"{width}\N{MULTIPLICATION SIGN}{height}, {images}",
            "model_text": ngettext("%(model)s, %(steps)s step", "%(model)s, %(steps)s steps", steps)
            % {"model": model.label, "steps": steps},
            "after_text": ngettext("%(count)s credit", "%(count)s credits", after) % {"count": after},
            "warning": ""
            if after >= 0
            else ngettext(
                "You need %(count)s more credit for this job.", "You need %(count)s more credits for this job.", -after
            )
            % {"count": -after},
        }


# --- Actions on a gallery image (its page's Vary, Extend to…, Upscale buttons) ---------------------------------


class ImageActionForm(forms.Form):
    """One action on one of the user's images: the form parses it, the service decides what is allowed; a refusal
    becomes this form's errors (on the field it names when the form shows that field) and nothing is stored."""

    action = ""
    field_aliases: dict[str, str] = {}  # the service's name for a field -> this form's

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("auto_id", f"id_{self.action}_%s")  # several of these forms share the image's page
        super().__init__(*args, **kwargs)

    def call(self, *, user: User, image: GeneratedImage) -> GenerationJob:
        raise NotImplementedError

    def submit(self, *, user: User, image: GeneratedImage) -> GenerationJob | None:
        try:
            return self.call(user=user, image=image)
        except ValidationError as error:
            if not hasattr(error, "error_dict"):
                self.add_error(None, error.messages)
            else:
                for field, messages in error.message_dict.items():
                    name = self.field_aliases.get(field, field)
                    self.add_error(name if name in self.fields else None, messages)
        except AccountsError as error:  # not enough credits, too many jobs in progress, e-mail not verified
            self.add_error(None, str(error))
        return None


class VaryForm(ImageActionForm):
    action = "vary"
    strength = forms.ChoiceField(choices=[("subtle", _("Subtle")), ("strong", _("Strong"))], label=_("Strength"))

    def call(self, *, user: User, image: GeneratedImage) -> GenerationJob:
        return vary_image(user=user, image=image, strength=self.cleaned_data["strength"])


class ExtendForm(ImageActionForm):
    action = "extend"
    field_aliases = {"width": "size_preset", "height": "size_preset", "outpaint": "size_preset"}
    size_preset = forms.ChoiceField(label=_("Extend to"), choices=lambda: size_preset_choices()[1:])
    anchor = forms.ChoiceField(
        label=_("Keep the image"), choices=list(OUTPAINT_ANCHOR_LABELS.items()), initial="center"
    )

    def call(self, *, user: User, image: GeneratedImage) -> GenerationJob:
        data = self.cleaned_data
        return extend_image(user=user, image=image, anchor=data["anchor"], size_preset=data["size_preset"])


class UpscaleForm(ImageActionForm):
    action = "upscale"
    field_aliases = {"upscale_factor": "factor"}
    factor = forms.TypedChoiceField(
        coerce=int, choices=[(n, f"{n}\N{MULTIPLICATION SIGN}") for n in (2, 4)], initial=2, label=_("Factor")
    )

    def call(self, *, user: User, image: GeneratedImage) -> GenerationJob:
        return upscale_image(user=user, image=image, factor=self.cleaned_data["factor"])


IMAGE_ACTION_FORMS: dict[str, type[ImageActionForm]] = {
    form.action: form for form in (VaryForm, ExtendForm, UpscaleForm)
}


def image_action_costs(image: GeneratedImage) -> dict[str, int]:
    """What each action on the image costs, as submit_job prices it (shown before the button is pressed)."""
    template = image.job.template if image.job.template is not None and image.job.template.is_active else None
    return {
        "vary": job_price(
            mode=JobMode.IMAGE, per_image=template.credit_cost if template else 1, num_images=1, width=0, height=0
        ),
        "extend": job_price(mode=JobMode.OUTPAINT, per_image=1, num_images=1, width=0, height=0),
        "edit": job_price(
            mode=JobMode.INPAINT, per_image=template.credit_cost if template else 1, num_images=1, width=0, height=0
        ),
        **{
            f"upscale{factor}": job_price(
                mode=JobMode.UPSCALE,
                per_image=1,
                num_images=1,
                width=image.width * factor,
                height=image.height * factor,
            )
            for factor in (2, 4)
        },
    }
