"""The prompt presets page (#22): the owner lists, creates, edits and deletes their presets; another user's preset is
a 404; every change is a CSRF-protected POST; a refused preset names its field and writes nothing. The generate
page's picker offers the user's own presets, each with the field it goes into."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from templates_app.models import PromptPreset
from templates_app.services import create_prompt_preset

pytestmark = pytest.mark.django_db


def signed_in(user, **options) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


@pytest.fixture
def preset(user) -> PromptPreset:
    return create_prompt_preset(owner=user, name="Window light", text="soft window light, 35mm film")


def test_the_owner_creates_a_preset(user):
    response = signed_in(user).post(
        reverse("presets:list"), {"name": "No text", "kind": "negative", "text": "text, watermark"}
    )
    assert response.status_code == 302 and response.url == reverse("presets:list")
    assert list(PromptPreset.objects.filter(owner=user).values_list("name", "kind", "text")) == [
        ("No text", "negative", "text, watermark")
    ]


def test_the_list_shows_the_users_presets_only(user, other_user, preset):
    create_prompt_preset(owner=other_user, name="Someone else's", text="secret words")
    page = signed_in(user).get(reverse("presets:list")).content.decode()
    assert "Window light" in page and "secret words" not in page
    assert reverse("presets:edit", args=[preset.pk]) in page and reverse("presets:delete", args=[preset.pk]) in page


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "kind": "prompt", "text": "x"}, "name"),
        ({"name": "Empty", "kind": "prompt", "text": ""}, "text"),
        ({"name": "Odd", "kind": "sideways", "text": "x"}, "kind"),
        ({"name": "Long", "kind": "prompt", "text": "x" * 5000}, "text"),
    ],
)
def test_a_bad_preset_is_refused_on_its_field(user, body, field):
    response = signed_in(user).post(reverse("presets:list"), body)
    assert response.status_code == 400
    assert list(response.context["form"].errors) == [field]
    assert not PromptPreset.objects.filter(owner=user).exists()


def test_a_name_taken_in_the_same_kind_is_refused_on_the_name(user, preset):
    body = {"name": "Window light", "kind": "prompt", "text": "another"}
    response = signed_in(user).post(reverse("presets:list"), body)
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["name"]
    assert PromptPreset.objects.filter(owner=user).count() == 1


def test_the_owner_edits_a_preset(user, preset):
    url = reverse("presets:edit", args=[preset.pk])
    assert 'value="Window light"' in signed_in(user).get(url).content.decode()
    response = signed_in(user).post(url, {"name": "Dusk", "kind": "prompt", "text": "golden hour"})
    assert response.status_code == 302
    preset.refresh_from_db()
    assert (preset.name, preset.text) == ("Dusk", "golden hour")


def test_a_refused_edit_leaves_the_preset_as_it_was(user, preset):
    create_prompt_preset(owner=user, name="Taken", text="x")
    response = signed_in(user).post(
        reverse("presets:edit", args=[preset.pk]), {"name": "Taken", "kind": "prompt", "text": "changed"}
    )
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["name"]
    preset.refresh_from_db()
    assert (preset.name, preset.text) == ("Window light", "soft window light, 35mm film")


def test_a_delete_asks_first_then_deletes(user, preset):
    url = reverse("presets:delete", args=[preset.pk])
    page = signed_in(user).get(url)
    assert page.status_code == 200 and PromptPreset.objects.filter(pk=preset.pk).exists()
    assert signed_in(user).post(url).status_code == 302
    assert not PromptPreset.objects.filter(pk=preset.pk).exists()


def test_another_users_preset_is_not_found(other_user, preset):
    intruder = signed_in(other_user)
    for name in ("presets:edit", "presets:delete"):
        url = reverse(name, args=[preset.pk])
        assert intruder.get(url).status_code == 404
        assert intruder.post(url, {"name": "Mine now", "kind": "prompt", "text": "x"}).status_code == 404
    preset.refresh_from_db()
    assert preset.name == "Window light"


def test_every_change_needs_the_csrf_token(user, preset):
    strict = signed_in(user, enforce_csrf_checks=True)
    body = {"name": "Dusk", "kind": "prompt", "text": "x"}
    for url in (
        reverse("presets:list"),
        reverse("presets:edit", args=[preset.pk]),
        reverse("presets:delete", args=[preset.pk]),
    ):
        assert strict.post(url, body).status_code == 403, url
    assert list(PromptPreset.objects.filter(owner=user).values_list("name", flat=True)) == ["Window light"]


def test_the_generate_page_offers_the_users_presets_with_where_they_go(user, other_user, preset):
    create_prompt_preset(owner=user, name="No text", text="text, watermark", kind="negative")
    create_prompt_preset(owner=other_user, name="Theirs", text="secret words")
    page = signed_in(user).get(reverse("generation:generate")).content.decode()
    assert 'data-kind="prompt" data-text="soft window light, 35mm film">Window light</option>' in page
    assert 'data-kind="negative" data-text="text, watermark">No text</option>' in page
    assert "secret words" not in page
    assert "js/preset_picker.js" in page


def test_without_presets_the_picker_points_to_the_presets_page(user):
    page = signed_in(user).get(reverse("generation:generate")).content.decode()
    assert "data-preset-select" not in page
    assert f'href="{reverse("presets:list")}"' in page
