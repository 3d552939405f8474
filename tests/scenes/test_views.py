"""The story pages' edit, delete and reorder forms (#22): the owner changes their own rows, another user meets a 404
and changes nothing, every change is a CSRF-protected POST (a GET only shows the form or the confirmation), and a
refused change names its field and leaves the row as it was."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from scenes import services
from scenes.models import Chapter, Character, Scene, Story

from ..factories import (
    BrandKitFactory,
    ChapterFactory,
    CharacterFactory,
    SceneFactory,
    StoryFactory,
    StyleFactory,
    png_bytes,
)

pytestmark = pytest.mark.django_db


def signed_in(user, **options) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


@pytest.fixture
def owner(user) -> Client:
    return signed_in(user)


@pytest.fixture
def tree(user):
    """A story with one chapter of three scenes (numbers 1, 2, 5: gaps are allowed) and a character."""
    story = StoryFactory(owner=user, title="The lighthouse")
    chapter = ChapterFactory(story=story, number=1, title="Storm")
    character = CharacterFactory(story=story, name="Mara")
    scenes = [SceneFactory(chapter=chapter, scene_number=n, description=f"scene {n}") for n in (1, 2, 5)]
    return story, chapter, character, scenes


def _upload(data: bytes, name: str = "face.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/png")


def numbers(chapter: Chapter) -> list[tuple[str, int]]:
    return list(chapter.scenes.order_by("scene_number").values_list("description", "scene_number"))


def edit_and_delete_urls(tree) -> list[str]:
    story, chapter, character, scenes = tree
    return [
        reverse("scenes:story-edit", args=[story.pk]),
        reverse("scenes:story-delete", args=[story.pk]),
        reverse("scenes:chapter-edit", args=[chapter.pk]),
        reverse("scenes:chapter-delete", args=[chapter.pk]),
        reverse("scenes:scene-edit", args=[scenes[0].pk]),
        reverse("scenes:scene-delete", args=[scenes[0].pk]),
        reverse("scenes:character-edit", args=[character.pk]),
        reverse("scenes:character-delete", args=[character.pk]),
    ]


# --- edit ------------------------------------------------------------------------------------------------------


def test_the_owner_edits_a_story(owner, tree):
    story = tree[0]
    page = owner.get(reverse("scenes:story-edit", args=[story.pk]))
    assert page.status_code == 200 and 'value="The lighthouse"' in page.content.decode()
    response = owner.post(
        reverse("scenes:story-edit", args=[story.pk]),
        {"title": "The lamp", "description": "", "template": "", "production_path": "cinema", "style": "ink"},
    )
    assert response.status_code == 302 and response.url == reverse("scenes:story", args=[story.pk])
    story.refresh_from_db()
    assert (story.title, story.style) == ("The lamp", "ink")


def test_a_story_without_a_title_is_refused_on_the_title(owner, tree):
    story = tree[0]
    response = owner.post(reverse("scenes:story-edit", args=[story.pk]), {"title": "", "production_path": "cinema"})
    assert response.status_code == 400
    assert response.context["form"].errors.keys() == {"title"}
    story.refresh_from_db()
    assert story.title == "The lighthouse"


def test_a_chapter_number_taken_in_the_story_is_refused_on_the_number(owner, tree):
    story, chapter = tree[0], tree[1]
    ChapterFactory(story=story, number=2)
    response = owner.post(reverse("scenes:chapter-edit", args=[chapter.pk]), {"number": "2", "title": "Renamed"})
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["number"]
    chapter.refresh_from_db()
    assert (chapter.number, chapter.title) == (1, "Storm")
    assert "Chapter 1" in response.content.decode()  # the page shows the row as it is, not the refused change


def test_the_owner_edits_a_chapter(owner, tree):
    chapter = tree[1]
    response = owner.post(reverse("scenes:chapter-edit", args=[chapter.pk]), {"number": "3", "title": "Calm"})
    assert response.status_code == 302
    chapter.refresh_from_db()
    assert (chapter.number, chapter.title) == (3, "Calm")


def test_the_owner_edits_a_scene_and_its_cast(owner, tree):
    _story, _chapter, character, scenes = tree
    response = owner.post(
        reverse("scenes:scene-edit", args=[scenes[0].pk]),
        {"scene_number": "1", "description": "The lamp goes out", "characters": [str(character.pk)]},
    )
    assert response.status_code == 302
    scenes[0].refresh_from_db()
    assert scenes[0].description == "The lamp goes out"
    assert list(scenes[0].characters.all()) == [character]


def test_a_scene_number_taken_in_the_chapter_is_refused_and_nothing_changes(owner, tree):
    _story, chapter, character, scenes = tree
    response = owner.post(
        reverse("scenes:scene-edit", args=[scenes[0].pk]),
        {"scene_number": "2", "description": "changed", "characters": [str(character.pk)]},
    )
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["scene_number"]
    assert numbers(chapter) == [("scene 1", 1), ("scene 2", 2), ("scene 5", 5)]
    assert not scenes[0].characters.exists()  # the cast was not written either


def test_a_character_of_another_story_is_not_a_choice(owner, user, tree):
    stranger = CharacterFactory(story=StoryFactory(owner=user))
    scene = tree[3][0]
    response = owner.post(
        reverse("scenes:scene-edit", args=[scene.pk]),
        {"scene_number": "1", "description": "x", "characters": [str(stranger.pk)]},
    )
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["characters"]


# --- a character's reference image ---------------------------------------------------------------------------


def test_the_owner_uploads_a_reference_image_shown_on_the_edit_page(owner, tree):
    character = tree[2]
    url = reverse("scenes:character-edit", args=[character.pk])
    upload = _upload(png_bytes((64, 48)))
    response = owner.post(
        url, {"name": "Mara", "description": "", "reference_strength": "0.4", "reference_image": upload}
    )
    assert response.status_code == 302
    character.refresh_from_db()
    assert character.reference_strength == 0.4
    assert character.reference_image.name.endswith(".png")
    assert default_storage.exists(character.reference_image.name)
    page = owner.get(url).content.decode()
    assert "data-reference-preview" in page and 'src=""' not in page  # the current reference is shown
    story_page = owner.get(reverse("scenes:story", args=[character.story_id])).content.decode()
    assert 'alt="Reference image of Mara"' in story_page  # and on the story page, until a picture is made


def test_a_new_reference_image_replaces_the_old_one(owner, tree, django_capture_on_commit_callbacks):
    character = tree[2]
    services.update_character(character=character, reference_png=png_bytes((32, 32)))
    old = character.reference_image.name
    url = reverse("scenes:character-edit", args=[character.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(
            url, {"name": "Mara", "reference_strength": "0.55", "reference_image": _upload(png_bytes((40, 40)))}
        )
    assert response.status_code == 302
    character.refresh_from_db()
    assert character.reference_image.name != old
    assert not default_storage.exists(old)


def test_a_file_that_is_not_an_image_is_refused_on_the_reference_image(owner, tree):
    character = tree[2]
    url = reverse("scenes:character-edit", args=[character.pk])
    bad = _upload(b"not an image at all", name="notes.png")
    response = owner.post(url, {"name": "Renamed", "reference_strength": "0.55", "reference_image": bad})
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["reference_image"]
    character.refresh_from_db()
    assert (character.name, character.reference_image.name) == ("Mara", "")


def test_a_reference_strength_out_of_range_is_refused_on_its_field(owner, tree):
    character = tree[2]
    response = owner.post(
        reverse("scenes:character-edit", args=[character.pk]), {"name": "Mara", "reference_strength": "3"}
    )
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["reference_strength"]


# --- delete ----------------------------------------------------------------------------------------------------


def test_a_delete_asks_first_and_deletes_nothing_on_get(owner, tree):
    story, chapter, character, _scenes = tree
    for url in edit_and_delete_urls(tree)[1::2]:
        page = owner.get(url)
        assert page.status_code == 200, url
        assert '<form method="post"' in page.content.decode(), url
    assert Story.objects.filter(pk=story.pk).exists() and Character.objects.filter(pk=character.pk).exists()
    assert Scene.objects.filter(chapter=chapter).count() == 3


def test_the_owner_deletes_a_scene_then_a_character_then_a_chapter_then_the_story(owner, user, tree):
    story, chapter, character, scenes = tree
    assert owner.post(reverse("scenes:scene-delete", args=[scenes[1].pk])).status_code == 302
    assert numbers(chapter) == [("scene 1", 1), ("scene 5", 5)]
    assert owner.post(reverse("scenes:character-delete", args=[character.pk])).status_code == 302
    assert not Character.objects.filter(pk=character.pk).exists()
    response = owner.post(reverse("scenes:chapter-delete", args=[chapter.pk]))
    assert response.url == reverse("scenes:story", args=[story.pk])
    assert not Scene.objects.filter(chapter_id=chapter.pk).exists()
    response = owner.post(reverse("scenes:story-delete", args=[story.pk]))
    assert response.url == reverse("scenes:list")
    assert not Story.objects.filter(owner=user).exists()


def test_deleting_a_character_deletes_its_reference_image(owner, tree, django_capture_on_commit_callbacks):
    character = tree[2]
    services.update_character(character=character, reference_png=png_bytes((32, 32)))
    name = character.reference_image.name
    with django_capture_on_commit_callbacks(execute=True):
        owner.post(reverse("scenes:character-delete", args=[character.pk]))
    assert not default_storage.exists(name)


# --- reorder ---------------------------------------------------------------------------------------------------


def test_move_up_and_down_swap_a_scene_with_its_neighbour(owner, tree):
    chapter, scenes = tree[1], tree[3]
    url = reverse("scenes:scene-move", args=[scenes[2].pk])
    response = owner.post(url, {"direction": "up"})
    assert response.status_code == 302 and response.url.endswith(f"#scene-{scenes[2].pk}")
    assert numbers(chapter) == [("scene 1", 1), ("scene 5", 2), ("scene 2", 5)]
    owner.post(reverse("scenes:scene-move", args=[scenes[0].pk]), {"direction": "down"})
    assert numbers(chapter) == [("scene 5", 1), ("scene 1", 2), ("scene 2", 5)]


def test_the_first_scene_does_not_move_up(owner, tree):
    chapter, scenes = tree[1], tree[3]
    owner.post(reverse("scenes:scene-move", args=[scenes[0].pk]), {"direction": "up"})
    owner.post(reverse("scenes:scene-move", args=[scenes[2].pk]), {"direction": "down"})
    assert numbers(chapter) == [("scene 1", 1), ("scene 2", 2), ("scene 5", 5)]


def test_a_move_without_a_direction_changes_nothing(owner, tree):
    chapter, scenes = tree[1], tree[3]
    response = owner.post(reverse("scenes:scene-move", args=[scenes[1].pk]), {"direction": "sideways"})
    assert response.status_code == 302
    assert numbers(chapter) == [("scene 1", 1), ("scene 2", 2), ("scene 5", 5)]


def test_a_move_is_a_post(owner, tree):
    assert owner.get(reverse("scenes:scene-move", args=[tree[3][0].pk])).status_code == 405


def test_the_chapter_page_offers_each_scene_its_tools(owner, tree):
    chapter, scenes = tree[1], tree[3]
    page = owner.get(reverse("scenes:chapter", args=[chapter.pk])).content.decode()
    for scene in scenes:
        for name in ("scenes:scene-edit", "scenes:scene-delete", "scenes:scene-move"):
            assert reverse(name, args=[scene.pk]) in page
    assert page.count('data-move="up" disabled') == 1 and page.count('data-move="down" disabled') == 1


# --- other users, CSRF -----------------------------------------------------------------------------------------


def test_another_user_cannot_see_edit_delete_or_move_anything(other_user, tree):
    story, chapter, character, scenes = tree
    intruder = signed_in(other_user)
    for url in edit_and_delete_urls(tree):
        assert intruder.get(url).status_code == 404, url
        assert intruder.post(url, {"title": "x", "number": "9", "name": "x", "scene_number": "9"}).status_code == 404
    assert intruder.post(reverse("scenes:scene-move", args=[scenes[0].pk]), {"direction": "down"}).status_code == 404
    story.refresh_from_db()
    chapter.refresh_from_db()
    assert story.title == "The lighthouse" and chapter.number == 1
    assert Character.objects.get(pk=character.pk).name == "Mara"
    assert numbers(chapter) == [("scene 1", 1), ("scene 2", 2), ("scene 5", 5)]


def test_every_change_needs_the_csrf_token(user, tree):
    story, chapter, _character, scenes = tree
    strict = signed_in(user, enforce_csrf_checks=True)
    for url in [*edit_and_delete_urls(tree), reverse("scenes:scene-move", args=[scenes[0].pk])]:
        assert strict.post(url, {"title": "x", "direction": "down"}).status_code == 403, url
    assert Story.objects.get(pk=story.pk).title == "The lighthouse"
    assert numbers(chapter) == [("scene 1", 1), ("scene 2", 2), ("scene 5", 5)]


# --- a story's styles and brand kit ------------------------------------------------------------------------------


def story_body(**extra) -> dict:
    return {"title": "Harbour", "description": "", "template": "", "production_path": "cinema", "style": "", **extra}


def test_a_new_story_keeps_the_styles_and_brand_kit_chosen(owner, user):
    film, ours = StyleFactory(name="Film grain"), StyleFactory(name="Our look", owner=user)
    kit = BrandKitFactory(owner=user, name="Acme")
    body = story_body(styles=[str(film.pk), str(ours.pk)], brand_kit=str(kit.pk))
    body[f"style_weight_{film.pk}"] = "0.5"
    response = owner.post(reverse("scenes:list"), body)
    assert response.status_code == 302
    story = Story.objects.get(owner=user)
    assert story.brand_kit == kit
    assert story.styles == [{"id": film.pk, "weight": 0.5}, {"id": ours.pk, "weight": ours.default_weight}]


def test_the_edit_page_shows_the_storys_styles_and_kit_and_clears_them(owner, user, tree):
    story = tree[0]
    film = StyleFactory(name="Film grain")
    kit = BrandKitFactory(owner=user, name="Acme")
    services.update_story(story=story, styles=[{"id": film.pk, "weight": 0.7}], brand_kit=kit)
    url = reverse("scenes:story-edit", args=[story.pk])
    page = owner.get(url).content.decode()
    assert f'name="styles" value="{film.pk}" id="id_styles_{film.pk}" checked' in page
    assert f'value="{kit.pk}" selected' in page
    assert owner.post(url, story_body(title="The lighthouse")).status_code == 302
    story.refresh_from_db()
    assert (story.styles, story.brand_kit) == ([], None)


def test_another_users_brand_kit_is_refused_on_the_kit(owner, other_user, tree):
    story = tree[0]
    theirs = BrandKitFactory(owner=other_user)
    response = owner.post(reverse("scenes:story-edit", args=[story.pk]), story_body(brand_kit=str(theirs.pk)))
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["brand_kit"]
    story.refresh_from_db()
    assert story.brand_kit is None and story.title == "The lighthouse"


def test_another_users_private_style_is_refused_on_the_styles(owner, other_user):
    theirs = StyleFactory(owner=other_user, name="Their look")
    response = owner.post(reverse("scenes:list"), story_body(styles=[str(theirs.pk)]))
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["styles"]
    assert not Story.objects.exists()


def test_more_than_three_styles_are_refused_on_the_styles(owner):
    styles = [StyleFactory() for _ in range(4)]
    response = owner.post(reverse("scenes:list"), story_body(styles=[str(style.pk) for style in styles]))
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["styles"]
    assert not Story.objects.exists()
