"""A template's named inputs: declared in its config, chosen per job, each value becoming a prompt fragment.

A declaration is either a choice (`choices`: a list of `{"value", "label", "prompt"}`, the prompt being the words
the value adds, in the order the form lists them) or free text (`max_length`, and a `prompt` pattern with
`{value}`). Labels are a string or one per language
(`{"en": "Lighting", "ko": "조명"}`). A job stores what its inputs resolved to, fragments included, so a later
revision of the template cannot change what an old job's inputs meant.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .workflow import WorkflowConfigError

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_INPUTS = 8  # a form's worth; more would be a template of its own
MAX_CHOICES = 20
MAX_TEXT_LENGTH = 200  # a free-text input is a few words of the prompt, not a second prompt
MAX_FRAGMENT_LENGTH = 300
CHOICE_KEYS = {"label", "choices", "default"}
TEXT_KEYS = {"label", "max_length", "prompt", "default"}


def validate_input_declarations(inputs: Any, path: str = "inputs") -> dict[str, dict[str, Any]]:
    """Check a config's `inputs`; raises WorkflowConfigError naming the bad key (`inputs.lighting.default`)."""
    if not isinstance(inputs, dict):
        raise WorkflowConfigError(path, _("Must be an object of named inputs."))
    if len(inputs) > MAX_INPUTS:
        raise WorkflowConfigError(path, _("At most %(count)s inputs.") % {"count": MAX_INPUTS})
    normalised = {}
    for name, spec in inputs.items():
        where = f"{path}.{name}"
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise WorkflowConfigError(where, _("Names are lower-case letters, digits and _ (at most 40)."))
        if not isinstance(spec, dict):
            raise WorkflowConfigError(where, _("Must be an object with a label and choices or max_length."))
        _check_label(spec.get("label"), f"{where}.label")
        normalised[name] = _choice(spec, where) if "choices" in spec else _text(spec, where)
    return normalised


def _check_label(label: Any, where: str) -> None:
    if isinstance(label, str) and label.strip():
        return
    texts = label.values() if isinstance(label, dict) else ()
    if texts and all(isinstance(text, str) and text.strip() for text in texts):
        return
    raise WorkflowConfigError(where, _('Must be a non-empty string, or one per language ({"en": ..., "ko": ...}).'))


def _check_keys(spec: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise WorkflowConfigError(
            f"{where}.{unknown[0]}", _("Unknown key (allowed: %(names)s).") % {"names": ", ".join(sorted(allowed))}
        )


def _choice(spec: dict[str, Any], where: str) -> dict[str, Any]:
    _check_keys(spec, CHOICE_KEYS, where)
    choices = spec["choices"]
    if not isinstance(choices, list) or not choices or len(choices) > MAX_CHOICES:
        raise WorkflowConfigError(
            f"{where}.choices", _("Must be a list of 1 to %(count)s values.") % {"count": MAX_CHOICES}
        )
    values = []
    for index, choice in enumerate(choices):
        at = f"{where}.choices[{index}]"
        if not isinstance(choice, dict):
            raise WorkflowConfigError(at, _("Must be an object with a value, a label and a prompt."))
        _check_keys(choice, {"value", "label", "prompt"}, at)
        value = choice.get("value")
        if not isinstance(value, str) or not NAME_PATTERN.match(value) or value in values:
            raise WorkflowConfigError(
                f"{at}.value", _("Values are lower-case letters, digits and _ (at most 40), once.")
            )
        values.append(value)
        _check_label(choice.get("label"), f"{at}.label")
        fragment = choice.get("prompt")
        if not isinstance(fragment, str) or len(fragment) > MAX_FRAGMENT_LENGTH:
            raise WorkflowConfigError(
                f"{at}.prompt",
                _("Must be a string of at most %(count)s characters.") % {"count": MAX_FRAGMENT_LENGTH},
            )
    if spec.get("default") not in values:
        raise WorkflowConfigError(f"{where}.default", _("Must be one of: %(names)s.") % {"names": ", ".join(values)})
    return spec


def _text(spec: dict[str, Any], where: str) -> dict[str, Any]:
    _check_keys(spec, TEXT_KEYS, where)
    length = spec.get("max_length")
    if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= MAX_TEXT_LENGTH:
        raise WorkflowConfigError(
            f"{where}.max_length",
            _("Give choices, or a max_length from 1 to %(count)s.") % {"count": MAX_TEXT_LENGTH},
        )
    pattern = spec.get("prompt", "{value}")
    if not isinstance(pattern, str) or pattern.count("{value}") != 1 or len(pattern) > MAX_FRAGMENT_LENGTH:
        raise WorkflowConfigError(f"{where}.prompt", _("Must contain {value} exactly once."))
    default = spec.get("default", "")
    if not isinstance(default, str) or len(default) > length:
        raise WorkflowConfigError(
            f"{where}.default", _("Must be text of at most %(length)s characters.") % {"length": length}
        )
    return {**spec, "prompt": pattern, "default": default}


def resolve_inputs(declarations: dict[str, dict[str, Any]], values: dict[str, Any] | None) -> dict[str, dict[str, str]]:
    """Every declared input's value (the job's, else the default) and the fragment it adds to the prompt.

    Raises ValidationError on `inputs.<name>` for an input the template does not declare or a bad value.
    """
    values = values or {}
    for name in values:
        if name not in declarations:
            declared = ", ".join(declarations) or _("none")
            message = _("This template has no input %(name)s (it takes: %(declared)s).")
            raise ValidationError({f"inputs.{name}": message % {"name": name, "declared": declared}})
    resolved = {}
    for name, spec in declarations.items():
        value = values.get(name, spec.get("default", ""))
        if "choices" in spec:
            fragments = {choice["value"]: choice["prompt"] for choice in spec["choices"]}
            if not isinstance(value, str) or value not in fragments:
                allowed = ", ".join(fragments)
                raise ValidationError({f"inputs.{name}": _("Choose one of: %(allowed)s.") % {"allowed": allowed}})
            fragment = fragments[value].strip()
        else:
            if not isinstance(value, str):
                raise ValidationError({f"inputs.{name}": _("Must be text.")})
            value = " ".join(value.split())  # one line: it is spliced into the prompt
            if len(value) > spec["max_length"]:
                raise ValidationError(
                    {f"inputs.{name}": _("At most %(count)s characters.") % {"count": spec["max_length"]}}
                )
            fragment = spec["prompt"].replace("{value}", value).strip() if value else ""
        resolved[name] = {"value": value, "prompt": fragment}
    return resolved


def input_fragments(resolved: dict[str, dict[str, str]]) -> list[str]:
    return [entry["prompt"] for entry in resolved.values() if entry.get("prompt")]


def with_input_fragments(workflow: list[dict[str, Any]], fragments: list[str]) -> list[dict[str, Any]]:
    """The job's node list with the inputs' fragments right after the prompt, before the template's style words."""
    if not fragments:
        return workflow
    nodes = [dict(node) for node in workflow]
    for node in nodes:
        if node["node_type"] == "prompt_enhancement":
            parameters = dict(node.get("parameters", {}))
            parameters["style_prompts"] = [*fragments, *parameters.get("style_prompts", [])]
            node["parameters"] = parameters
            return nodes
    return [{"node_type": "prompt_enhancement", "parameters": {"style_prompts": fragments}}, *nodes]


def localized(label: str | dict[str, str], language: str | None) -> str:
    """A label in the language asked for (`ko`, `ko-kr`), else English, else the first one given."""
    if isinstance(label, str):
        return label
    base = (language or "en").split("-")[0].lower()
    return label.get(base) or label.get("en") or next(iter(label.values()))
