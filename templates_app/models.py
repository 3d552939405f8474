from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from generation.engine.models_catalog import DEFAULT_MODEL, MAX_IMAGES_PER_JOB, MAX_PROMPT_LENGTH, get_model
from generation.engine.paths import PATH_CHOICES
from generation.engine.workflow import WorkflowConfigError, validate_workflow_config

OVERRIDABLE_PARAMETERS = ("width", "height", "steps", "guidance", "seed", "negative_prompt", "num_images")
# Overridable parameters a template may narrow to [low, high]; guidance may be fractional.
BOUNDABLE_PARAMETERS = ("width", "height", "steps", "guidance", "num_images")


def default_overridable() -> list[str]:
    return list(OVERRIDABLE_PARAMETERS)


class TemplateQuerySet(models.QuerySet):
    def listed(self) -> TemplateQuerySet:
        """What users browse and may pick: the active version of each template."""
        return self.filter(is_active=True)

    def latest_active(self, slug: str) -> Template | None:
        return self.listed().filter(slug=slug).order_by("-version").first()


class Template(models.Model):
    """A named, versioned preset: model, sampler settings, size and a workflow pipeline.

    Editing goes through `services.revise_template`, which adds version n+1 and retires version n
    from listings; jobs keep pointing at the exact version row they ran with.
    """

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=120)
    version = models.PositiveIntegerField(_("version"), default=1)
    production_path = models.CharField(_("production path"), max_length=32, choices=PATH_CHOICES)
    description = models.TextField(_("description"), blank=True)
    sample_prompt = models.CharField(
        _("sample prompt"),
        max_length=500,
        blank=True,
        help_text=_("A prompt that shows the template off; used to render its preview."),
    )
    preview = models.FileField(
        _("preview"), max_length=255, blank=True, help_text=_("Storage key of the preview the pipeline drew.")
    )
    credit_cost = models.PositiveIntegerField(_("credit cost"), default=1, help_text=_("Credits per image."))
    is_active = models.BooleanField(_("active"), default=True)
    config = models.JSONField(_("config"), help_text=_("model, scheduler, steps, cfg_scale, width, height, pipeline[]"))
    overridable = models.JSONField(
        _("overridable"), default=default_overridable, help_text=_("Parameters a job may override.")
    )
    bounds = models.JSONField(
        _("bounds"),
        default=dict,
        blank=True,
        help_text=_('Limits on overridable parameters, e.g. {"steps": [1, 12], "guidance": [0, 2]}.'),
    )
    max_images = models.PositiveSmallIntegerField(_("max images"), default=MAX_IMAGES_PER_JOB)
    styles = models.JSONField(
        _("styles"),
        default=list,
        blank=True,
        help_text=_('Public LoRA styles every job of the template uses: [{"id", "weight"}].'),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = TemplateQuerySet.as_manager()

    class Meta:
        ordering = ("production_path", "name", "-version")
        verbose_name = _("template")
        verbose_name_plural = _("templates")
        constraints = [
            models.UniqueConstraint(fields=["slug", "version"], name="template_slug_version"),
            models.UniqueConstraint(
                fields=["slug"],
                condition=models.Q(is_active=True),
                name="template_one_active_version",
                violation_error_message=_("Another version of this template is already active."),
            ),
        ]
        indexes = [models.Index(fields=["production_path", "is_active"], name="template_path_active")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def save(self, *args, **kwargs) -> None:
        # Validated on every save, not only through forms: an invalid config or bound never lands.
        self.config = validate_workflow_config(self.config)
        self.overridable = validate_overridable(self.overridable)
        self.bounds = validate_bounds(self.bounds, template=self)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        """Form-facing validation: a bad config is reported on the `config` field, naming the bad key."""
        errors: dict[str, list[str]] = {}
        try:
            self.config = validate_workflow_config(self.config)
        except WorkflowConfigError as error:
            errors["config"] = [f"{error.path}: {message}" for message in error.messages]
        try:
            self.overridable = validate_overridable(self.overridable)
        except ValidationError as error:
            errors.update(error.message_dict)
        if not errors:  # bounds are checked against a valid config and overridable list
            try:
                self.bounds = validate_bounds(self.bounds, template=self)
            except ValidationError as error:
                errors.update(error.message_dict)
        if errors:
            raise ValidationError(errors)

    def default_values(self) -> dict[str, float]:
        """What a job gets for each boundable parameter when it overrides nothing."""
        from generation.engine.paths import PATHS

        model = get_model(self.config.get("model", DEFAULT_MODEL))
        path = PATHS.get(self.production_path)
        width, height = (
            (self.config["width"], self.config["height"])
            if "width" in self.config
            else (path.default_size if path else (1024, 1024))
        )
        return {
            "width": width,
            "height": height,
            "steps": self.config.get("steps", model.default_steps),
            "guidance": self.config.get("cfg_scale", model.default_guidance),
            "num_images": 1,
        }

    def check_bounds(self, **values: float) -> None:
        """Refuse job parameters outside this template's bounds, naming the parameter."""
        for name, value in values.items():
            if name in (self.bounds or {}):
                low, high = self.bounds[name]
                if not low <= value <= high:
                    raise ValidationError(
                        {
                            name: gettext("Must be between %(low)s and %(high)s with the template %(name)s.")
                            % {"low": low, "high": high, "name": repr(self.name)}
                        }
                    )

    @property
    def display_name(self) -> str:
        """The name in the reader's language: the curated templates' names are in the catalog (seed_templates marks
        them); a staff member's own name has no entry and reads as written."""
        return gettext(self.name) if self.name else self.name

    @property
    def display_description(self) -> str:
        return gettext(self.description) if self.description else self.description


def validate_overridable(overridable: Any) -> list[str]:
    if not isinstance(overridable, list) or not all(isinstance(name, str) for name in overridable):
        raise ValidationError({"overridable": gettext("Must be a list of parameter names.")})
    unknown = set(overridable) - set(OVERRIDABLE_PARAMETERS)
    if unknown:
        names, allowed = ", ".join(sorted(unknown)), ", ".join(OVERRIDABLE_PARAMETERS)
        raise ValidationError(
            {
                "overridable": gettext("Unknown parameters: %(names)s (allowed: %(allowed)s).")
                % {"names": names, "allowed": allowed}
            }
        )
    return [name for name in OVERRIDABLE_PARAMETERS if name in overridable]


def validate_bounds(bounds: Any, *, template: Template) -> dict[str, list[float]]:
    """Each bound is [low, high] on an overridable parameter, inside the model's own limits,
    and around the template's default (a job that overrides nothing must pass)."""
    if bounds in (None, ""):
        return {}
    if not isinstance(bounds, dict):
        raise ValidationError({"bounds": gettext('Must be an object like {"steps": [1, 12]}.')})
    model = get_model(template.config.get("model", DEFAULT_MODEL))
    limits = {
        "width": (model.min_side, model.max_side),
        "height": (model.min_side, model.max_side),
        "steps": (1, model.max_steps),
        "guidance": (0, model.max_guidance),
        "num_images": (1, min(template.max_images, MAX_IMAGES_PER_JOB)),
    }
    defaults = template.default_values()
    normalised = {}
    for name, pair in bounds.items():
        if name not in BOUNDABLE_PARAMETERS:
            raise _bound_error(
                name, gettext("Cannot be bounded (boundable: %(names)s).") % {"names": ", ".join(BOUNDABLE_PARAMETERS)}
            )
        if name not in template.overridable:
            raise _bound_error(name, gettext("Is not overridable with this template, so a bound has no effect."))
        number_types = (int, float) if name == "guidance" else (int,)
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or any(isinstance(value, bool) or not isinstance(value, number_types) for value in pair)
        ):
            if name == "guidance":
                raise _bound_error(name, gettext("Must be [low, high], two numbers."))
            raise _bound_error(name, gettext("Must be [low, high], two whole numbers."))
        low, high = pair
        model_low, model_high = limits[name]
        if not model_low <= low <= high <= model_high:
            raise _bound_error(
                name,
                gettext("Must satisfy %(model_low)s <= low <= high <= %(model_high)s.")
                % {"model_low": model_low, "model_high": model_high},
            )
        if not low <= defaults[name] <= high:
            raise _bound_error(
                name,
                gettext("The template's own default (%(default)s) lies outside [%(low)s, %(high)s].")
                % {"default": defaults[name], "low": low, "high": high},
            )
        normalised[name] = [low, high]
    return normalised


def _bound_error(name: str, message: str) -> ValidationError:
    return ValidationError({"bounds": f"{name}: {message}"})


class PromptKind(models.TextChoices):
    PROMPT = "prompt", _("Prompt")
    NEGATIVE = "negative", _("Negative prompt")


class PromptPreset(models.Model):
    """A user's saved prompt fragment, for the prompt or the negative prompt."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="prompt_presets", verbose_name=_("owner")
    )
    name = models.CharField(_("name"), max_length=80)
    text = models.TextField(_("text"), validators=[MaxLengthValidator(MAX_PROMPT_LENGTH)])
    kind = models.CharField(_("kind"), max_length=16, choices=PromptKind, default=PromptKind.PROMPT)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ("kind", "name", "id")
        verbose_name = _("prompt preset")
        verbose_name_plural = _("prompt presets")
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "kind", "name"],
                name="prompt_preset_unique_name",
                violation_error_message=_("You already have a preset with this name."),
            ),
            models.CheckConstraint(condition=models.Q(kind__in=PromptKind.values), name="prompt_preset_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"
