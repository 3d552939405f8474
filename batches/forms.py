"""The generate page's "All channel sizes" block: the page's own job fields, plus the sizes to draw them at."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.exceptions import AccountsError
from generation.engine.models_catalog import SIZE_PRESETS
from generation.forms import SIZE_PRESET_LABELS, GenerateForm

from .models import Batch
from .services import batch_create

if TYPE_CHECKING:
    from accounts.models import User


def batch_size_choices() -> list[tuple[str, str]]:
    return [
        (name, f"{SIZE_PRESET_LABELS.get(name, name)} · {width}\N{MULTIPLICATION SIGN}{height}")
        for name, (width, height) in SIZE_PRESETS.items()
    ]


class BatchForm(forms.Form):
    """Posted by the generate form's second button: the generate form's fields (declared there, reused here)."""

    template = forms.CharField(required=False)
    batch_sizes = forms.MultipleChoiceField(
        choices=batch_size_choices, widget=forms.CheckboxSelectMultiple, label=_("Channel sizes")
    )
    prompt = GenerateForm.base_fields["prompt"]
    production_path = GenerateForm.base_fields["production_path"]
    negative_prompt = GenerateForm.base_fields["negative_prompt"]
    num_images = GenerateForm.base_fields["num_images"]
    seed = GenerateForm.base_fields["seed"]
    steps = GenerateForm.base_fields["steps"]
    guidance = GenerateForm.base_fields["guidance"]

    clean_template = GenerateForm.clean_template  # the generate form's own check, for the same field

    def submit(self, *, user: User) -> Batch | None:
        """The batch, or None with the refusal added to this form's errors (nothing is stored then)."""
        data = self.cleaned_data
        try:
            return batch_create(
                user=user,
                prompts=[data["prompt"]],
                size_presets=data["batch_sizes"],
                template=data.get("template"),
                production_path=data.get("production_path") or None,
                negative_prompt=data.get("negative_prompt") or None,
                num_images=data.get("num_images") or 1,
                seed=data.get("seed"),
                steps=data.get("steps"),
                guidance=data.get("guidance"),
            )
        except ValidationError as error:
            for field, messages in getattr(error, "message_dict", {None: error.messages}).items():
                name = "batch_sizes" if field in ("size_presets", "prompts") else field
                self.add_error(name if name in self.fields else None, messages)
        except AccountsError as error:  # not enough credits, too many jobs waiting
            self.add_error(None, str(error))
        return None
