"""The website's generate form: parses the page's fields, then lets `submit_job` decide what is allowed.

Field-level messages come from the same ValidationError dict the API answers with, so the page and the API
never disagree about what a valid job is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.exceptions import AccountsError
from gallery.models import SourceImage
from gallery.selectors import live_images_for, signed_url
from gallery.services import delete_source_image, store_source_image
from templates_app.models import Template
from templates_app.selectors import listed_templates, template_for_jobs

from .credits import job_price
from .engine.job_input import JobMode
from .engine.models_catalog import DEFAULT_MODEL, MAX_IMAGES_PER_JOB, MAX_PROMPT_LENGTH, MODELS, SIZE_PRESETS
from .engine.paths import DEFAULT_PATH, PATH_CHOICES, PATHS
from .image_input import DEFAULT_STRENGTH, MIN_STRENGTH, SourceNotFound
from .models import GenerationJob
from .services import MAX_SEED, extend_image, submit_job_request, upscale_image, vary_image

if TYPE_CHECKING:
    from accounts.models import User
    from gallery.models import GeneratedImage

SIZE_PRESET_LABELS = {
    "1:1": "Square 1:1",
    "16:9": "Landscape 16:9",
    "9:16": "Portrait 9:16",
    "4:3": "Classic 4:3",
    "instagram": "Instagram post",
    "facebook_cover": "Facebook cover",
}
# Errors about fields the page does not show are reported on the field that decides them.
ERROR_FIELD_ALIASES = {"width": "size_preset", "height": "size_preset"}
MAX_MASK_DATA_URL = 12 * 1024 * 1024  # a painted mask's PNG data URL; the upload checks limit its pixels
RECENT_SOURCE_IMAGES = 24  # the gallery picker's choices (any of the user's own image ids is accepted)


def size_preset_choices() -> list[tuple[str, str]]:
    return [("", "Template default")] + [
        (name, f"{SIZE_PRESET_LABELS.get(name, name)} · {width}\N{MULTIPLICATION SIGN}{height}")
        for name, (width, height) in SIZE_PRESETS.items()
    ]


def template_choices(templates) -> list[tuple[str, Any]]:
    """Templates grouped by production path, as <optgroup>s."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for template in templates:
        label = f"{template.name} · {template.credit_cost} credit{'s' if template.credit_cost != 1 else ''}/image"
        groups.setdefault(template.get_production_path_display(), []).append((template.slug, label))
    return [("", "No template (the path's defaults)"), *groups.items()]


class GenerateForm(forms.Form):
    template = forms.ChoiceField(required=False, label="Template")
    production_path = forms.ChoiceField(
        required=False, choices=PATH_CHOICES, initial=DEFAULT_PATH, label="Production path"
    )
    prompt = forms.CharField(
        max_length=MAX_PROMPT_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "A linen summer dress on a sunlit terrace"}),
        help_text="Describe the picture. The template adds its own style words.",
    )
    negative_prompt = forms.CharField(
        required=False,
        max_length=MAX_PROMPT_LENGTH,
        label="Negative prompt",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "blurry, low quality, watermark"}),
        help_text="What to keep out of the picture.",
    )
    size_preset = forms.ChoiceField(required=False, label="Size", choices=size_preset_choices)
    num_images = forms.TypedChoiceField(
        coerce=int,
        choices=[(n, str(n)) for n in range(1, MAX_IMAGES_PER_JOB + 1)],
        initial=1,
        label="Number of images",
    )
    seed = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_SEED,
        label="Seed",
        help_text="Leave empty for a random seed; the same seed and settings draw the same picture.",
        widget=forms.NumberInput(attrs={"placeholder": "Random", "inputmode": "numeric"}),
    )
    steps = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=max(model.max_steps for model in MODELS.values()),
        label="Steps",
        widget=forms.NumberInput(attrs={"placeholder": "Default", "inputmode": "numeric"}),
    )
    guidance = forms.FloatField(
        required=False,
        min_value=0,
        max_value=max(model.max_guidance for model in MODELS.values()),
        label="Guidance",
        widget=forms.NumberInput(attrs={"placeholder": "Default", "step": "0.1", "inputmode": "decimal"}),
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

    def __init__(self, *args: Any, user: User | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.templates = list(listed_templates())
        self.fields["template"].choices = template_choices(self.templates)
        self.recent_images = list(live_images_for(user)[:RECENT_SOURCE_IMAGES]) if user is not None else []
        choices = [("", _("No image: from text alone"))] + [
            (str(image.uuid), f"{image.job.prompt[:60]} · {image.width}\N{MULTIPLICATION SIGN}{image.height}")
            for image in self.recent_images
        ]
        chosen = str(self["source_image"].value() or "")
        if chosen and chosen not in {value for value, _label in choices}:
            choices.append((chosen, _("The job's own source image")))
        self.fields["source_image"].widget.choices = choices

    def source_urls(self) -> dict[str, str]:
        """The picker's images as the mask painter draws over them."""
        return {str(image.uuid): signed_url(image.file.name) for image in self.recent_images}

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
            raise ValidationError("This template is not available any more.")
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
                source_image=source,
                strength=data.get("strength") if source is not None else None,
                mask=data.get("mask") or None,
            )
        except ValidationError as error:
            self.add_service_errors(error, upload=upload)
        except SourceNotFound as error:
            self.add_service_errors(ValidationError({error.field: _("No such image.")}), upload=upload)
        except AccountsError as error:  # not enough credits, too many jobs in progress
            self.add_error(None, str(error))
        if upload is not None:
            delete_source_image(source=upload)
        return None

    def add_service_errors(self, error: ValidationError, *, upload: SourceImage | None = None) -> None:
        if not hasattr(error, "error_dict"):
            self.add_error(None, error.messages)
            return
        for field, messages in error.message_dict.items():
            name = ERROR_FIELD_ALIASES.get(field, field)
            if name == "source_image" and upload is not None:
                name = "source_file"
            self.add_error(name if name in self.fields else None, messages)


def generate_page_data() -> dict[str, Any]:
    """What the page's script needs to show each template's limits, cost and time estimate (json_script)."""
    return {
        "templates": {
            template.slug: {
                "name": template.name,
                "path": template.production_path,
                "cost": template.credit_cost,
                "model": template.config.get("model", DEFAULT_MODEL),
                "defaults": template.default_values(),
                "overridable": template.overridable,
                "bounds": template.bounds,
                "max_images": template.max_images,
                "description": template.description,
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
    if job.mode == JobMode.IMAGE and (source := job.source_upload or job.source_image) is not None:
        initial.update(source_image=str(source.uuid), strength=job.strength)
    return initial


def initial_from_image(image: GeneratedImage) -> dict[str, Any]:
    """Use these settings again: the job's request with this image's own seed, one image."""
    return {**initial_from_job(image.job, seed=image.seed), "num_images": 1}


# --- Actions on a gallery image (its page's Vary, Extend to…, Upscale buttons) ---------------------------------

OUTPAINT_ANCHOR_LABELS = {
    "center": _("In the centre"),
    "left": _("At the left"),
    "right": _("At the right"),
    "top": _("At the top"),
    "bottom": _("At the bottom"),
}


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
