"""In a real headless Chromium (#22 part 2): the chapter page follows "Generate all scenes" live over the WebSocket
(daphne and a real worker) until each scene shows its picture, without a reload; scenes are reordered with the
keyboard alone (the focus stays on the moved scene's button); the gallery's bulk bar ticks a range with Shift+Space
and tags the selection, all by key presses. Screenshots at 1280 and 390 px go to $ZIMAGE_SCREENSHOTS when set."""

from __future__ import annotations

import functools

import pytest
from django.urls import reverse

from gallery.models import GeneratedImage
from gallery.services import create_folder
from scenes import services as story_services
from templates_app.services import create_prompt_preset

from ..factories import UserFactory, png_bytes, stored_image
from .test_browser_e2e import CHROMIUM
from .test_browser_e2e import wait_for as wait_for_truthy
from .test_browser_edit_extend import SHIFT, logged_in, press, screenshots, viewport

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed"),
]

wait_for = functools.partial(wait_for_truthy, seconds=15)


def focus(browser, selector: str) -> None:
    browser.evaluate(f"document.querySelector({selector!r}).focus()")
    assert browser.evaluate(f"document.activeElement === document.querySelector({selector!r})"), selector


def scene_order(chapter) -> list[str]:
    return list(chapter.scenes.order_by("scene_number").values_list("description", flat=True))


def test_the_chapter_page_shows_each_scenes_picture_live_without_a_reload(module_worker, daphne, browser):
    user = UserFactory()
    story = story_services.create_story(owner=user, title="Harbour", production_path="cartoon")
    chapter = story_services.create_chapter(story=story, number=1, title="Morning")
    story_services.create_scene(chapter=chapter, scene_number=1, description="boats at dawn")
    story_services.create_scene(chapter=chapter, scene_number=2, description="gulls over the pier")
    logged_in(browser, daphne.url, user)
    browser.open(daphne.url + reverse("scenes:chapter", args=[chapter.pk]))

    # "Generate all scenes" by keyboard (its confirmation is accepted), back on the chapter page.
    focus(browser, f"form[action='{reverse('scenes:chapter-generate', args=[chapter.pk])}'] button")
    press(browser, "Enter")
    wait_for(browser, "document.querySelectorAll('[data-scene][data-job-id]').length === 2")
    browser.drain()
    assert browser.dialogs == ["Queue one image for each of the 2 scenes?"]
    browser.evaluate("window.stillThisPage = true")
    # What each scene goes through on this page, as the socket moves it.
    browser.evaluate(
        "window.seen = [];"
        "new MutationObserver(changes => changes.forEach(c => window.seen.push(c.target.dataset.jobStatus)))"
        ".observe(document.querySelector('[data-chapter-live]'), {subtree: true, attributeFilter: ['data-job-status']})"
    )
    assert browser.evaluate(
        "[...document.querySelectorAll('[data-scene]')].some(s => s.dataset.jobStatus !== 'succeeded')"
    )

    # Each scene follows its own job: the live block, then the finished picture in its media slot and its grid.
    done = "[...document.querySelectorAll('[data-scene]')].every(s => s.dataset.jobStatus === 'succeeded')"
    wait_for(browser, done, seconds=180)
    for scene in chapter.scenes.all():
        root = f"document.getElementById('scene-{scene.pk}')"
        wait_for(browser, f"{root}.querySelectorAll('[data-field=images] [data-image-id]').length === 1")
        assert browser.evaluate(f"{root}.querySelector('[data-field=status]').textContent") == "Succeeded"
        assert browser.evaluate(f"{root}.querySelector('[data-field=live]').hidden") is True
        assert browser.evaluate(f"{root}.querySelector('[data-field=progress]').value") == 100
        image = scene.image_requests.get().job.images.get()
        src = browser.evaluate(f"{root}.querySelector('[data-field=media] img').getAttribute('src')")
        assert src and str(image.uuid) == browser.evaluate(
            f"{root}.querySelector('[data-field=images] [data-image-id]').dataset.imageId"
        )
        # The new tile's "Use this" form names the image, so it can be chosen at once.
        value = browser.evaluate(f"{root}.querySelector('[data-field=images] input[name=image]').value")
        assert value == str(image.uuid)
        # The thumbnail really loads (the signed URL from the event, not a broken image).
        wait_for(browser, f"{root}.querySelector('[data-field=media] img').naturalWidth > 0")
    assert browser.evaluate("window.stillThisPage") is True  # no reload happened
    assert "succeeded" in browser.evaluate("window.seen")  # and the socket, not the server's page, brought it
    screenshots(browser, "chapter-live")
    assert browser.errors == []


def test_scenes_are_reordered_with_the_keyboard_alone(live_server, browser):
    user = UserFactory()
    story = story_services.create_story(owner=user, title="Harbour")
    chapter = story_services.create_chapter(story=story, number=1)
    first, second, third = (
        story_services.create_scene(chapter=chapter, scene_number=n, description=text)
        for n, text in ((1, "boats at dawn"), (2, "gulls over the pier"), (3, "nets drying"))
    )
    logged_in(browser, live_server.url, user)
    browser.open(live_server.url + reverse("scenes:chapter", args=[chapter.pk]))
    screenshots(browser, "chapter-tools")
    # The first scene cannot move up, the last cannot move down: those buttons are disabled, not hidden.
    assert browser.evaluate(f"document.querySelector('#scene-{first.pk} [data-move=up]').disabled") is True
    assert browser.evaluate(f"document.querySelector('#scene-{third.pk} [data-move=down]').disabled") is True

    focus(browser, f"#scene-{first.pk} [data-move=down]")
    press(browser, "Enter")
    wait_for(browser, f"document.readyState === 'complete' && location.hash === '#scene-{first.pk}'")
    assert scene_order(chapter) == ["gulls over the pier", "boats at dawn", "nets drying"]
    # After the reload, focus is back on the same button: Enter again moves the same scene on.
    wait_for(browser, f"document.activeElement === document.querySelector('#scene-{first.pk} [data-move=down]')")
    browser.evaluate("window.movedOnce = true")
    press(browser, "Enter")
    wait_for(browser, "window.movedOnce === undefined && document.readyState === 'complete'")
    assert scene_order(chapter) == ["gulls over the pier", "nets drying", "boats at dawn"]
    # At the bottom, "down" is disabled: focus falls to its twin.
    wait_for(browser, f"document.activeElement === document.querySelector('#scene-{first.pk} [data-move=up]')")
    order = "[...document.querySelectorAll('[data-scene] h3')].map(h => h.textContent)"
    assert browser.evaluate(order) == ["gulls over the pier", "nets drying", "boats at dawn"]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.scene_number, second.scene_number) == (3, 1)
    assert browser.errors == []


def test_bulk_actions_work_from_the_keyboard_with_a_shift_range(live_server, browser):
    user = UserFactory()
    images = [stored_image(user, prompt=f"picture {n}") for n in range(4)]
    create_folder(owner=user, name="Launch")
    logged_in(browser, live_server.url, user)
    browser.open(live_server.url + reverse("gallery:list"))
    boxes = "[...document.querySelectorAll('[data-select]')]"
    # Space ticks the focused box; Shift+Space on another ticks every box between them.
    browser.evaluate(f"{boxes}[0].focus()")
    press(browser, " ")
    browser.evaluate(f"{boxes}[2].focus()")
    press(browser, " ", modifiers=SHIFT)
    assert browser.evaluate(f"{boxes}.map(b => b.checked)") == [True, True, True, False]
    ticked = set(browser.evaluate(f"{boxes}.filter(b => b.checked).map(b => b.value)"))
    assert "3" in browser.evaluate("document.querySelector('[data-selected-count]').textContent")
    # The tags field appears only for "Add tags"; typing there and pressing Enter applies the action.
    assert browser.evaluate("document.querySelector('[data-bulk-tags]').hidden") is True
    focus(browser, "[data-bulk-action]")
    browser.evaluate(
        "(s => { s.value = 'tag'; s.dispatchEvent(new Event('change', {bubbles: true})); })"
        "(document.querySelector('[data-bulk-action]'))"
    )
    assert browser.evaluate("document.querySelector('[data-bulk-tags]').hidden") is False
    focus(browser, "[data-bulk-tags]")
    browser.call("Input.insertText", text="summer, launch")
    screenshots(browser, "gallery-bulk")
    browser.evaluate("window.beforeSubmit = true")
    press(browser, "Enter")
    wait_for(browser, "window.beforeSubmit === undefined && document.readyState === 'complete'")
    tagged = {str(image.uuid): sorted(image.tags.values_list("name", flat=True)) for image in images}
    assert {uuid for uuid, names in tagged.items() if names == ["launch", "summer"]} == ticked
    assert sorted(map(len, tagged.values())) == [0, 2, 2, 2]
    # Select all, by keyboard, then favourite the lot.
    focus(browser, "[data-select-all]")
    press(browser, " ")
    assert browser.evaluate(f"{boxes}.every(b => b.checked)") is True
    browser.evaluate(
        "(s => { s.value = 'favourite'; s.dispatchEvent(new Event('change', {bubbles: true})); })"
        "(document.querySelector('[data-bulk-action]'))"
    )
    focus(browser, "[data-bulk-submit]")
    browser.evaluate("window.beforeSubmit = true")
    press(browser, "Enter")
    wait_for(browser, "window.beforeSubmit === undefined && document.readyState === 'complete'")
    assert all(GeneratedImage.objects.get(pk=image.pk).is_favourite for image in images)
    assert browser.errors == []


def test_the_new_pages_fit_a_phone_without_scrolling_sideways(live_server, browser):
    user = UserFactory()
    story = story_services.create_story(owner=user, title="Harbour")
    mara = story_services.create_character(story=story, name="Mara", reference_png=png_bytes((64, 64)))
    chapter = story_services.create_chapter(story=story, number=1)
    scene = story_services.create_scene(chapter=chapter, scene_number=1, description="boats at dawn", characters=[mara])
    preset = create_prompt_preset(owner=user, name="Window light", text="soft window light")
    logged_in(browser, live_server.url, user)
    viewport(browser, "phone")
    pages = [
        reverse("scenes:story", args=[story.pk]),
        reverse("scenes:story-edit", args=[story.pk]),
        reverse("scenes:chapter", args=[chapter.pk]),
        reverse("scenes:scene-edit", args=[scene.pk]),
        reverse("scenes:character-edit", args=[mara.pk]),
        reverse("scenes:character-delete", args=[mara.pk]),
        reverse("presets:list"),
        reverse("presets:edit", args=[preset.pk]),
        reverse("generation:generate"),
    ]
    for path in pages:
        browser.open(live_server.url + path)
        assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
    assert browser.errors == []


def test_the_preset_picker_inserts_at_the_cursor_of_the_right_field(live_server, browser):
    user = UserFactory()
    create_prompt_preset(owner=user, name="Window light", text="soft window light")
    create_prompt_preset(owner=user, name="No text", text="text, watermark", kind="negative")
    logged_in(browser, live_server.url, user)
    browser.open(live_server.url + reverse("generation:generate"))
    prompt = "document.querySelector('textarea[name=prompt]')"
    negative = "document.querySelector('textarea[name=negative_prompt]')"
    browser.evaluate(f"{prompt}.value = 'a red scarf on a chair'")
    # The cursor after "a red scarf": the preset goes there, between commas.
    focus(browser, "textarea[name=prompt]")
    browser.evaluate(f"{prompt}.setSelectionRange(22, 22)")
    for _ in range(11):
        press(browser, "ArrowLeft")
    pick = (
        "(s => {{ s.value = [...s.options].find(o => o.textContent === {name!r}).value; }})"
        "(document.querySelector('[data-preset-select]'))"
    )
    browser.evaluate(pick.format(name="Window light"))
    focus(browser, "[data-preset-insert]")
    press(browser, "Enter")
    assert browser.evaluate(f"{prompt}.value") == "a red scarf, soft window light, on a chair"
    # A negative preset goes to the negative prompt, at its end when it was never visited.
    browser.evaluate(f"{negative}.value = 'blurry'")
    browser.evaluate(pick.format(name="No text"))
    focus(browser, "[data-preset-insert]")
    press(browser, " ")
    assert browser.evaluate(f"{negative}.value") == "blurry, text, watermark"
    assert browser.evaluate(f"document.activeElement === {negative}")
    assert browser.errors == []
