"""Our models' names in Korean (#22): every model's verbose names, every field's verbose name and help text and every
choice label of our apps is a lazy translation with a Korean entry, so the admin, ModelForms and the browsable API
name them in the reader's language. Django's own fields (AbstractUser's) count too: Django's catalog has them."""

from __future__ import annotations

import re

from django.apps import apps
from django.db import models
from django.utils import translation
from django.utils.functional import Promise

OURS = (
    "accounts",
    "batches",
    "brands",
    "gallery",
    "generation",
    "scenes",
    "templates_app",
    "webhooks",
    "core",
    "compat",
)
HANGUL = re.compile("[가-힣]")
# Names Korean writes as English does.
SAME_IN_KOREAN = {
    "UUID": "an identifier's standard name; Korean admin pages write it in Latin letters",
    "SHA-256": "the name of the digest algorithm",
    "URL": "Korean writes URL, not a transliteration",
}
# Choice lists whose labels are not words to translate.
UNTRANSLATED_CHOICES = {
    "accounts.User.language": "each language named in itself (English, 한국어), as a language switcher does",
    "brands.Style.base_model": "the models' product names (Z-Image-Turbo, Stable Diffusion XL)",
}


def our_models() -> list[type[models.Model]]:
    return [model for label in OURS for model in apps.get_app_config(label).get_models()]


def declared_fields(model: type[models.Model]) -> list[models.Field]:
    """The fields a form or the admin may show: concrete and many-to-many ones, less the automatic primary key."""
    return [
        field
        for field in model._meta.get_fields()
        if isinstance(field, models.Field) and not field.auto_created and (field.concrete or field.many_to_many)
    ]


def problem(text: object, *, same_allowed: bool = False) -> str | None:
    """Why `text` does not read in Korean, or None."""
    if not isinstance(text, Promise):
        return "not marked for translation"
    with translation.override("ko"):
        korean = str(text)
    if HANGUL.search(korean) or (same_allowed and korean in SAME_IN_KOREAN):
        return None
    return f"no Korean entry (reads {korean!r})"


def test_every_model_is_named_in_korean() -> None:
    found = {}
    for model in our_models():
        for option in ("verbose_name", "verbose_name_plural"):
            if why := problem(getattr(model._meta, option)):
                found[f"{model._meta.label}.{option}"] = why
    assert found == {}


def test_every_field_is_named_and_explained_in_korean() -> None:
    found, same = {}, set()
    for model in our_models():
        for field in declared_fields(model):
            where = f"{model._meta.label}.{field.name}"
            if why := problem(field.verbose_name, same_allowed=True):
                found[f"{where} verbose_name {field.verbose_name!r}"] = why
            if field.help_text and (why := problem(field.help_text)):
                found[f"{where} help_text {str(field.help_text)[:40]!r}"] = why
            same.add(str(field.verbose_name))
    assert found == {}
    assert set(SAME_IN_KOREAN) <= same, "an exception no field uses any more"


def test_every_choice_label_is_korean() -> None:
    found = {}
    for model in our_models():
        for field in declared_fields(model):
            where = f"{model._meta.label}.{field.name}"
            if not field.choices or where in UNTRANSLATED_CHOICES:
                continue
            for value, label in field.flatchoices:
                if why := problem(label):
                    found[f"{where}={value}"] = why
    assert found == {}


def test_the_untranslated_choice_lists_exist() -> None:
    for where in UNTRANSLATED_CHOICES:
        app_model, field = where.rsplit(".", 1)
        assert apps.get_model(app_model)._meta.get_field(field).choices, where
