"""The website's forms for styles and brand kits, and the style picker and kit selector the generate page adds to
its form. They parse the page's fields only; brands.services decides what is allowed (its ValidationError dict,
keyed by field, lands next to the same fields)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from generation.engine.models_catalog import DEFAULT_MODEL, MODELS

from . import selectors
from .models import (
    LOGO_MARGIN_RANGE,
    LOGO_OPACITY_RANGE,
    LOGO_SCALE_RANGE,
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

WEIGHT_STEP = 0.05


def weight_field_name(style_id: int) -> str:
    """The page's weight slider of one style: `style_weight_<id>` next to the `styles` checkbox."""
    return f"style_weight_{style_id}"


def model_choices() -> list[tuple[str, str]]:
    return [(name, spec.label) for name, spec in MODELS.items()]


@dataclass(frozen=True)
class StyleOption:
    """One style as the picker shows it: checked or not, with the weight its slider stands at."""

    style: Style
    checked: bool
    weight: float
    weight_name: str


class StylePickerForm(forms.Form):
    """Up to three styles of the user's library (public + own), each with a weight from -2 to 2.

    `styles` cleans to the request's `[{"id", "weight"}]`, in the library's order; the count, the range and whose
    styles they are are checked again by the service.
    """

    styles = forms.TypedMultipleChoiceField(
        coerce=int,
        required=False,
        label=_("Styles"),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Up to three trained styles; each weight from -2 to 2 (0: no effect, 1: as trained)."),
    )

    def choice_field(self, name: str) -> forms.ChoiceField:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        return field

    def init_style_picker(self, *, user: User | None) -> None:
        self.style_library = list(selectors.styles_visible_to(user=user)) if user is not None else []
        self.choice_field("styles").choices = [(style.pk, style.name) for style in self.style_library]

    def clean_styles(self) -> list[dict[str, Any]]:
        chosen = set(self.cleaned_data.get("styles") or [])
        if len(chosen) > MAX_STYLES_PER_JOB:
            raise ValidationError(_("Choose at most %(n)s styles.") % {"n": MAX_STYLES_PER_JOB})
        picked = []
        for style in self.style_library:
            if style.pk not in chosen:
                continue
            raw = self.data.get(weight_field_name(style.pk), "")
            try:
                weight = float(raw) if raw not in ("", None) else style.default_weight
            except (TypeError, ValueError):
                raise ValidationError(_("The weight of %(name)s must be a number.") % {"name": style.name}) from None
            if not MIN_STYLE_WEIGHT <= weight <= MAX_STYLE_WEIGHT:
                raise ValidationError(_("The weight of %(name)s must be between -2 and 2.") % {"name": style.name})
            picked.append({"id": style.pk, "weight": weight})
        return picked

    def style_options(self) -> list[StyleOption]:
        """The library for the template: what is checked and each slider's weight (as posted or prefilled, in the
        form data's shape: `styles` ids and `style_weight_<id>` values; else the style's default weight)."""
        source = self.data if self.is_bound else self.initial
        chosen = source.getlist("styles") if hasattr(source, "getlist") else source.get("styles") or []
        checked = {str(value) for value in chosen}
        options = []
        for style in self.style_library:
            name = weight_field_name(style.pk)
            try:
                weight = float(source.get(name) or style.default_weight)
            except (TypeError, ValueError):
                weight = style.default_weight
            options.append(StyleOption(style, str(style.pk) in checked, weight, name))
        return options


def styles_as_data(styles: list[dict[str, Any]]) -> dict[str, Any]:
    """`[{"id", "weight"}]` (a job's snapshot, a kit's defaults) as the picker's form data."""
    data: dict[str, Any] = {"styles": [str(style["id"]) for style in styles]}
    data.update({weight_field_name(style["id"]): str(style["weight"]) for style in styles if "weight" in style})
    return data


class BrandJobFields(StylePickerForm):
    """What the generate form adds for brands: the style picker, a brand kit, and "add the logo" for a kit whose
    logo is chosen per job. `brand_request()` gives them as submit_job_request's arguments."""

    brand_kit = forms.TypedChoiceField(coerce=int, empty_value=None, required=False, label=_("Brand kit"))
    apply_logo = forms.BooleanField(required=False, label=_("Add the kit's logo to the images"))

    def init_brand_fields(self, *, user: User | None) -> None:
        self.init_style_picker(user=user)
        self.brand_kits = list(selectors.brand_kits_of(user=user)) if user is not None else []
        kits = [(kit.pk, kit.name) for kit in self.brand_kits]
        self.choice_field("brand_kit").choices = [("", _("No brand kit")), *kits]

    def brand_kit_modes(self) -> dict[str, str]:
        """Each kit's logo rule for the page's script ("none" without a logo): it shows "add the logo" for per_job."""
        return {str(kit.pk): kit.logo_apply if kit.logo else LogoApply.NONE for kit in self.brand_kits}

    def brand_request(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "styles": data.get("styles") or None,
            "brand_kit": data.get("brand_kit"),
            "apply_logo": data.get("apply_logo") or None,
        }


def brand_initial(job: Any) -> dict[str, Any]:
    """A job's styles and kit as the generate form's data (Retry, Use these settings again)."""
    initial: dict[str, Any] = styles_as_data(job.styles or [])
    if job.brand_kit_id is not None:
        initial["brand_kit"] = str(job.brand_kit_id)
        if job.apply_logo:
            initial["apply_logo"] = "on"
    return initial


class StyleForm(forms.Form):
    name = forms.CharField(max_length=100, label=_("Name"))
    base_model = forms.ChoiceField(
        label=_("Base model"),
        choices=model_choices,
        initial=DEFAULT_MODEL,
        help_text=_("The model the style was trained on; it only applies to jobs drawn with that model."),
    )
    file = forms.FileField(
        label=_("LoRA file"),
        help_text=_("A .safetensors LoRA; other formats are refused."),
        widget=forms.ClearableFileInput(attrs={"accept": ".safetensors"}),
    )
    trigger_words = forms.CharField(
        required=False,
        max_length=300,
        label=_("Trigger words"),
        help_text=_("Added to the prompt of every job that uses the style."),
    )
    default_weight = forms.FloatField(
        min_value=MIN_STYLE_WEIGHT,
        max_value=MAX_STYLE_WEIGHT,
        initial=1.0,
        label=_("Default weight"),
        widget=forms.NumberInput(attrs={"step": WEIGHT_STEP}),
    )


class PaletteField(forms.CharField):
    """Hex colours separated by commas or spaces ("#1a2b3c, #ffffff"): the page's palette picker writes it."""

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [colour.strip().lower() for colour in text.replace(",", " ").split() if colour.strip()]

    def validate(self, value: Any) -> None:
        if len(value) > MAX_PALETTE_COLOURS:
            raise ValidationError(_("At most %(n)s colours.") % {"n": MAX_PALETTE_COLOURS})


class BrandKitForm(StylePickerForm):
    name = forms.CharField(max_length=100, label=_("Name"))
    palette = PaletteField(
        required=False,
        label=_("Colour codes"),
        help_text=_("Up to 8 colours, written like #1a2b3c; they become words in the prompt."),
    )
    tone_words = forms.CharField(
        required=False,
        max_length=300,
        label=_("Tone words"),
        help_text=_("How the pictures should feel, e.g. “warm, minimal, confident”."),
    )
    avoid_words = forms.CharField(
        required=False,
        max_length=300,
        label=_("Words to avoid"),
        help_text=_("Added to every job's negative prompt."),
    )
    logo = forms.FileField(
        required=False,
        label=_("Logo"),
        help_text=_("A PNG with transparency works best; it is stored re-encoded as PNG."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/webp,image/jpeg"}),
    )
    remove_logo = forms.BooleanField(required=False, label=_("Remove the logo"))
    logo_corner = forms.ChoiceField(
        label=_("Corner"), choices=LogoCorner.choices, initial=LogoCorner.BOTTOM_RIGHT, widget=forms.RadioSelect
    )
    logo_margin = forms.FloatField(
        min_value=LOGO_MARGIN_RANGE[0],
        max_value=LOGO_MARGIN_RANGE[1],
        initial=0.03,
        label=_("Margin"),
        widget=forms.NumberInput(attrs={"type": "range", "step": "0.005"}),
        help_text=_("The gap to the edges, as a share of the image's width."),
    )
    logo_scale = forms.FloatField(
        min_value=LOGO_SCALE_RANGE[0],
        max_value=LOGO_SCALE_RANGE[1],
        initial=0.15,
        label=_("Size"),
        widget=forms.NumberInput(attrs={"type": "range", "step": "0.01"}),
        help_text=_("The logo's width as a share of the image's width."),
    )
    logo_opacity = forms.FloatField(
        min_value=LOGO_OPACITY_RANGE[0],
        max_value=LOGO_OPACITY_RANGE[1],
        initial=1.0,
        label=_("Opacity"),
        widget=forms.NumberInput(attrs={"type": "range", "step": "0.05"}),
    )
    logo_apply = forms.ChoiceField(label=_("Put the logo on"), choices=LogoApply.choices, initial=LogoApply.NONE)

    def __init__(self, *args: Any, user: User, kit: BrandKit | None = None, **kwargs: Any):
        if kit is not None and "initial" not in kwargs:
            kwargs["initial"] = kit_initial(kit)
        super().__init__(*args, **kwargs)
        self.kit = kit
        self.init_style_picker(user=user)
        self.fields["styles"].label = _("Default styles")
        self.fields["styles"].help_text = _("Used by a job that names no styles of its own (those for its model).")

    def service_fields(self) -> dict[str, Any]:
        """brand_kit_create's / brand_kit_update's keyword arguments: `logo` only when uploaded or removed."""
        data = dict(self.cleaned_data)
        data["default_styles"] = data.pop("styles")
        upload, remove = data.pop("logo"), data.pop("remove_logo")
        if upload:
            data["logo"] = upload
        elif remove:
            data["logo"] = None
        return data


def kit_initial(kit: BrandKit) -> dict[str, Any]:
    return {
        "name": kit.name,
        "palette": ", ".join(kit.palette),
        "tone_words": kit.tone_words,
        "avoid_words": kit.avoid_words,
        **styles_as_data(kit.default_styles),
        "logo_corner": kit.logo_corner,
        "logo_margin": kit.logo_margin,
        "logo_scale": kit.logo_scale,
        "logo_opacity": kit.logo_opacity,
        "logo_apply": kit.logo_apply,
    }


def add_service_errors(form: forms.Form, error: ValidationError, *, aliases: dict[str, str] | None = None) -> None:
    """A service's refusal next to the fields it names (unknown fields at the top of the form)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, messages in error.message_dict.items():
        name = (aliases or {}).get(field, field)
        form.add_error(name if name in form.fields else None, messages)
