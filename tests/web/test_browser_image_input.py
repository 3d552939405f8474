"""In a real headless Chromium: the generate page's "Start from an image" script (paste, gallery pick, strength
slider, mask painter) and the image page's actions, with screenshots at 1280 and 390 px written to
$ZIMAGE_SCREENSHOTS when set (to look at). Skipped where Chromium is not installed."""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from generation.models import GenerationJob

from ..factories import UserFactory, stored_image
from .test_browser_e2e import CHROMIUM, Browser, wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed"),
]

PASTE_AN_IMAGE = """
(async () => {
  const canvas = document.createElement("canvas");
  canvas.width = 320; canvas.height = 256;
  const context = canvas.getContext("2d");
  context.fillStyle = "#2a6"; context.fillRect(0, 0, 320, 256);
  const blob = await new Promise((done) => canvas.toBlob(done, "image/png"));
  const data = new DataTransfer();
  data.items.add(new File([blob], "pasted.png", { type: "image/png" }));
  document.querySelector("[data-drop-zone]").dispatchEvent(
    new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
  return document.querySelector('input[name="source_file"]').files.length;
})()
"""


def screenshots(browser: Browser, name: str) -> None:
    folder = os.environ.get("ZIMAGE_SCREENSHOTS")
    if not folder:
        return
    for width in (1280, 390):
        browser.call("Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1, mobile=False)
        time.sleep(0.3)
        shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        Path(folder, f"{name}-{width}.png").write_bytes(base64.b64decode(shot["data"]))
    browser.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)


def logged_in(browser: Browser, live_server, user) -> None:
    session = Client()
    session.force_login(user)
    browser.call("Network.setCookie", name="sessionid", value=session.cookies["sessionid"].value, url=live_server.url)
    browser.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)


def test_a_pasted_image_with_a_painted_region_becomes_an_inpaint_job(live_server, browser):
    user = UserFactory()
    image = stored_image(user)
    logged_in(browser, live_server, user)
    browser.open(live_server.url + reverse("generation:generate"))

    assert browser.evaluate("document.querySelector('[data-strength-field]').hidden") is True
    assert browser.evaluate("document.querySelector('[data-mask-painter]').hidden") is True
    # A gallery pick shows the slider and the painter over that image.
    browser.evaluate(
        f"(s => {{ s.value = '{image.uuid}'; s.dispatchEvent(new Event('change')); }})"
        "(document.querySelector('select[name=source_image]'))"
    )
    wait_for(browser, "document.querySelector('[data-mask-canvas]').width === 256")
    assert browser.evaluate("document.querySelector('[data-strength-field]').hidden") is False
    # A pasted image replaces the pick.
    assert (
        browser.call("Runtime.evaluate", expression=PASTE_AN_IMAGE, awaitPromise=True, returnByValue=True)["result"][
            "value"
        ]
        == 1
    )
    assert browser.evaluate("document.querySelector('select[name=source_image]').value") == ""
    wait_for(browser, "document.querySelector('[data-mask-canvas]').width === 320")

    # Paint a stroke across the canvas with the mouse, undo it, paint again.
    browser.evaluate("document.querySelector('[data-mask-canvas]').scrollIntoView({block: 'center'})")
    box = browser.evaluate(
        "(r => [r.left, r.top, r.width, r.height])"
        "(document.querySelector('[data-mask-canvas]').getBoundingClientRect())"
    )
    left, top, width, height = box

    def drag() -> None:
        y = top + height / 2
        browser.call("Input.dispatchMouseEvent", type="mousePressed", x=left + 5, y=y, button="left", clickCount=1)
        for step in range(1, 11):
            browser.call("Input.dispatchMouseEvent", type="mouseMoved", x=left + width * step / 12, y=y, button="left")
        browser.call("Input.dispatchMouseEvent", type="mouseReleased", x=left + width * 0.9, y=y, button="left")

    painted = "(c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 === 3 && v))"
    painted += "(document.querySelector('[data-mask-canvas]'))"
    drag()
    assert browser.evaluate(painted) is True
    browser.evaluate("document.querySelector('[data-mask-undo]').click()")
    assert browser.evaluate(painted) is False
    drag()
    assert browser.evaluate(painted) is True
    screenshots(browser, "generate-mask")

    browser.evaluate("document.querySelector('textarea[name=prompt]').value = 'the bottle on marble'")
    browser.evaluate("document.querySelector('[data-generate-form]').requestSubmit()")
    wait_for(browser, "location.pathname.startsWith('/jobs/')")

    job = GenerationJob.objects.get(owner=user, mode="inpaint")
    assert (job.source_upload.width, job.source_upload.height) == (320, 256)
    assert (job.mask.width, job.mask.height) == (320, 256)
    assert job.strength == 1.0  # painting moves the untouched slider to the inpaint default
    assert browser.errors == []
    screenshots(browser, "job-inpaint")


def test_the_image_pages_actions_send_the_browser_to_the_new_job(live_server, browser):
    user = UserFactory()
    image = stored_image(user)
    logged_in(browser, live_server, user)
    browser.open(live_server.url + reverse("gallery:image", args=[image.uuid]))
    screenshots(browser, "image-actions")

    browser.evaluate(
        "[...document.querySelectorAll('button')].find(b => b.textContent.includes('Vary (strong)')).click()"
    )
    wait_for(browser, "location.pathname.startsWith('/jobs/')")

    job = GenerationJob.objects.get(owner=user, mode="image")
    assert (job.source_image, job.strength) == (image, 0.7)
    assert browser.errors == []
