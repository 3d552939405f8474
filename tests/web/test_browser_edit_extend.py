"""In a real headless Chromium: the image page's Edit region opens the mask painter on that image, painted with the
keyboard alone (arrow keys, Space, [ ], E, I, Ctrl+Z) and submitted as an inpaint; the generate page's "Extend to"
picker with its anchor and the "Banner from product shot" template submit outpaints; every painter control is
reached by Tab with a visible focus ring and a name; the estimate follows the mode before submit; and a job started
from Edit region streams its progress to the job page over the WebSocket (daphne and a real worker). Screenshots at
1280x900 and 390x844 go to $ZIMAGE_SCREENSHOTS when set, to look at."""

from __future__ import annotations

import base64
import functools
import io
import os
import time
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from generation.models import GenerationJob
from templates_app.seed_templates import CURATED_TEMPLATES

from ..factories import TemplateFactory, UserFactory, stored_image
from .test_browser_e2e import CHROMIUM, Browser
from .test_browser_e2e import wait_for as wait_for_truthy

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed"),
]

VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844)}
KEYS = {  # key -> (code, Windows virtual key code): what Input.dispatchKeyEvent needs to act like a keyboard
    "ArrowLeft": ("ArrowLeft", 37),
    "ArrowUp": ("ArrowUp", 38),
    "ArrowRight": ("ArrowRight", 39),
    "ArrowDown": ("ArrowDown", 40),
    " ": ("Space", 32),
    "Tab": ("Tab", 9),
    "Enter": ("Enter", 13),
    "[": ("BracketLeft", 219),
    "]": ("BracketRight", 221),
    "e": ("KeyE", 69),
    "i": ("KeyI", 73),
    "z": ("KeyZ", 90),
}
CTRL, SHIFT = 2, 8
wait_for = functools.partial(wait_for_truthy, seconds=15)  # the painter's image and the worker take longer here
PAINTED = (
    "(c => c.width > 0 && c.getContext('2d').getImageData(0, 0, c.width, c.height).data"
    ".some((v, i) => i % 4 === 3 && v))(document.querySelector('[data-mask-canvas]'))"
)


def viewport(browser: Browser, name: str) -> None:
    width, height = VIEWPORTS[name]
    browser.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)


def screenshots(browser: Browser, name: str) -> None:
    folder = os.environ.get("ZIMAGE_SCREENSHOTS")
    if not folder:
        return
    for size in VIEWPORTS:
        viewport(browser, size)
        time.sleep(0.4)
        shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        Path(folder, f"{name}-{size}.png").write_bytes(base64.b64decode(shot["data"]))
    viewport(browser, "desktop")


def logged_in(browser: Browser, url: str, user) -> None:
    session = Client()
    session.force_login(user)
    browser.call("Network.setCookie", name="sessionid", value=session.cookies["sessionid"].value, url=url)
    viewport(browser, "desktop")


def press(browser: Browser, key: str, *, modifiers: int = 0, up: bool = True, down: bool = True) -> None:
    code, virtual = KEYS[key]
    text = {"Enter": "\r", "Tab": ""}.get(key, key if len(key) == 1 and not modifiers & CTRL else "")
    common = dict(key=key, code=code, windowsVirtualKeyCode=virtual, modifiers=modifiers)
    if down:
        browser.call("Input.dispatchKeyEvent", type="keyDown" if text else "rawKeyDown", text=text, **common)
    if up:
        browser.call("Input.dispatchKeyEvent", type="keyUp", **common)


def paint_with_keys(browser: Browser, moves: int = 12) -> None:
    """Hold Space and walk the brush right: a horizontal stroke through the cursor's row."""
    press(browser, " ", up=False)
    for _ in range(moves):
        press(browser, "ArrowRight")
    press(browser, " ", down=False)


def active(browser: Browser, selector: str) -> bool:
    return browser.evaluate(f"document.activeElement === document.querySelector({selector!r})")


def choose(browser: Browser, name: str, value: str) -> None:
    browser.evaluate(
        f"(s => {{ s.value = {value!r}; s.dispatchEvent(new Event('change', {{bubbles: true}})); }})"
        f"(document.querySelector('select[name={name}]'))"
    )


def estimate_shows(browser: Browser, text: str) -> None:
    wait_for(browser, f"document.querySelector('[data-estimate-size]').textContent.includes({text!r})")


def mask_pixels(job: GenerationJob) -> Image.Image:
    job.mask.file.open("rb")
    try:
        return Image.open(io.BytesIO(job.mask.file.read())).convert("L")
    finally:
        job.mask.file.close()


def test_edit_region_is_painted_with_the_keyboard_alone_and_submits_an_inpaint(live_server, browser):
    user = UserFactory()
    image = stored_image(user, prompt="a red scarf on a chair")
    logged_in(browser, live_server.url, user)
    browser.open(live_server.url + reverse("gallery:image", args=[image.uuid]))
    screenshots(browser, "image-actions")

    # The image page's Edit region, by keyboard: focus the link and press Enter.
    browser.evaluate("[...document.querySelectorAll('a')].find(a => a.textContent.trim() === 'Edit region').focus()")
    press(browser, "Enter")
    wait_for(browser, "location.search.includes('edit=region')")
    wait_for(browser, "document.querySelector('[data-mask-canvas]').width === 256")
    # The painter is open on the image, focused, with the brush cursor showing where the next dab lands.
    wait_for(browser, "document.activeElement === document.querySelector('[data-mask-canvas]')")
    assert browser.evaluate("document.querySelector('[data-mask-cursor]').hidden") is False
    assert browser.evaluate("document.querySelector('textarea[name=prompt]').value") == "a red scarf on a chair"

    press(browser, "]")
    press(browser, "]")
    assert browser.evaluate("document.querySelector('[data-mask-brush]').value") == "64"
    paint_with_keys(browser)
    assert browser.evaluate(PAINTED) is True
    press(browser, "z", modifiers=CTRL)
    assert browser.evaluate(PAINTED) is False
    press(browser, "e")
    assert browser.evaluate("document.querySelector('[data-mask-tool=erase]').getAttribute('aria-pressed')") == "true"
    press(browser, "e")
    assert browser.evaluate("document.querySelector('[data-mask-tool=paint]').getAttribute('aria-pressed')") == "true"
    press(browser, "i")
    assert browser.evaluate(PAINTED) is True  # the whole image
    press(browser, "z", modifiers=CTRL)
    assert browser.evaluate(PAINTED) is False
    for _ in range(6):
        press(browser, "ArrowLeft", modifiers=SHIFT)
    paint_with_keys(browser, moves=24)
    assert browser.evaluate(PAINTED) is True
    # The estimate follows: an inpaint keeps the image's size.
    wait_for(browser, "document.querySelector('[data-generate-form]').dataset.estimateMode === 'inpaint'")
    estimate_shows(browser, "256\N{MULTIPLICATION SIGN}256")
    screenshots(browser, "edit-region-keyboard")

    browser.evaluate("document.querySelector('button[type=submit].btn-primary').focus()")
    press(browser, "Enter")
    wait_for(browser, "location.pathname.startsWith('/jobs/')")

    job = GenerationJob.objects.get(owner=user, mode="inpaint")
    assert (job.source_image, job.strength, job.prompt) == (image, 1.0, "a red scarf on a chair")
    mask = mask_pixels(job)
    assert mask.size == (256, 256)
    assert mask.getpixel((128, 128)) == 255 and mask.getpixel((128, 5)) == 0  # the stroke's row, not the top
    assert browser.errors == []


def test_every_painter_control_is_reached_by_tab_with_a_visible_focus_and_a_name(live_server, browser):
    user = UserFactory()
    image = stored_image(user)
    logged_in(browser, live_server.url, user)
    browser.open(f"{live_server.url}{reverse('generation:generate')}?from_image={image.uuid}&edit=region")
    wait_for(browser, "document.activeElement === document.querySelector('[data-mask-canvas]')")

    reached = []
    for _ in range(7):
        press(browser, "Tab")
        reached.append(
            browser.evaluate(
                "(e => [e.dataset.maskTool || Object.keys(e.dataset)[0] || e.name, e.matches(':focus-visible'),"
                " getComputedStyle(e).outlineStyle, (e.labels && e.labels[0] ? e.labels[0].textContent : "
                "e.getAttribute('aria-label') || e.textContent).trim()])(document.activeElement)"
            )
        )
    names = [name for name, *_ in reached]
    assert names[:6] == ["maskBrush", "paint", "erase", "maskUndo", "maskInvert", "maskClear"], reached
    for name, focus_visible, outline, label in reached[:6]:
        assert focus_visible and outline != "none", name
        assert label, name
    assert browser.evaluate("document.querySelector('[data-mask-canvas]').getAttribute('aria-label')")
    assert "arrow keys" in browser.evaluate("document.getElementById('mask-keys').textContent")
    assert browser.errors == []


def test_extend_to_with_an_anchor_submits_an_outpaint_and_the_estimate_shows_its_canvas(live_server, browser):
    user = UserFactory()
    image = stored_image(user)
    logged_in(browser, live_server.url, user)
    browser.open(live_server.url + reverse("generation:generate"))
    # Without a source there is nothing to extend.
    assert browser.evaluate("document.querySelector('[data-extend-field]').hidden") is True

    choose(browser, "source_image", str(image.uuid))
    wait_for(browser, "document.querySelector('[data-mask-canvas]').width === 256")
    assert browser.evaluate("document.querySelector('[data-extend-anchor]').hidden") is True
    choose(browser, "extend_to", "16:9")
    # An extended canvas is drawn in full: no strength, no region to paint; the anchor says where the image stays.
    assert browser.evaluate("document.querySelector('[data-extend-anchor]').hidden") is False
    assert browser.evaluate("document.querySelector('[data-strength-field]').hidden") is True
    assert browser.evaluate("document.querySelector('[data-mask-painter]').hidden") is True
    choose(browser, "extend_anchor", "right")
    estimate_shows(browser, "1024\N{MULTIPLICATION SIGN}576")
    assert browser.evaluate("document.querySelector('[data-generate-form]').dataset.estimateMode") == "outpaint"
    screenshots(browser, "generate-extend")

    browser.evaluate("document.querySelector('textarea[name=prompt]').value = 'a wide studio floor'")
    browser.evaluate("document.querySelector('[data-generate-form]').requestSubmit()")
    wait_for(browser, "location.pathname.startsWith('/jobs/')")

    job = GenerationJob.objects.get(owner=user, mode="outpaint")
    assert (job.source_image, job.outpaint_anchor, job.width, job.height) == (image, "right", 1024, 576)
    assert browser.errors == []


def test_the_banner_template_asks_for_a_shot_and_extends_it(live_server, browser):
    user = UserFactory()
    image = stored_image(user, width=512, height=512)
    entry = next(entry for entry in CURATED_TEMPLATES if entry["slug"] == "banner-from-product-shot")
    TemplateFactory(**entry)
    logged_in(browser, live_server.url, user)
    browser.open(live_server.url + reverse("generation:generate"))
    assert browser.evaluate("document.querySelector('[data-source-required]').hidden") is True

    choose(browser, "template", "banner-from-product-shot")
    assert browser.evaluate("document.querySelector('[data-source-required]').hidden") is False
    screenshots(browser, "generate-banner-asks")
    choose(browser, "source_image", str(image.uuid))
    wait_for(browser, "document.querySelector('[data-mask-canvas]').width === 512")
    estimate_shows(browser, "820\N{MULTIPLICATION SIGN}312")
    assert browser.evaluate("document.querySelector('[data-strength-field]').hidden") is True

    browser.evaluate("document.querySelector('textarea[name=prompt]').value = 'the same sneaker on a studio floor'")
    browser.evaluate("document.querySelector('[data-generate-form]').requestSubmit()")
    wait_for(browser, "location.pathname.startsWith('/jobs/')")
    job = GenerationJob.objects.get(owner=user, template__slug="banner-from-product-shot")
    assert (job.mode, job.source_image, job.width, job.height) == ("outpaint", image, 820, 312)
    assert browser.errors == []


def test_a_job_from_edit_region_streams_its_progress_to_the_job_page(module_worker, daphne, browser):
    user = UserFactory()
    image = stored_image(user, prompt="a teapot", steps=2)
    logged_in(browser, daphne.url, user)
    browser.open(f"{daphne.url}{reverse('generation:generate')}?from_image={image.uuid}&edit=region")
    wait_for(browser, "document.activeElement === document.querySelector('[data-mask-canvas]')")
    paint_with_keys(browser)
    browser.evaluate("document.querySelector('[data-generate-form]').requestSubmit()")
    wait_for(browser, "location.pathname.startsWith('/jobs/')")

    # Live: the page's WebSocket brings the worker's steps and the finished image without a reload.
    wait_for(browser, "document.querySelector('[data-job-live]').dataset.jobStatus === 'succeeded'", seconds=120)
    assert browser.evaluate("document.querySelector('[data-field=progress]').value") == 100
    wait_for(browser, "document.querySelectorAll('[data-field=images] [data-image-id]').length === 1")
    screenshots(browser, "job-from-edit-region")
    job = GenerationJob.objects.get(owner=user, mode="inpaint")
    assert job.status == "succeeded"
    assert browser.errors == []
