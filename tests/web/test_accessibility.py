"""Accessible and responsive (#22 part 3), in a real headless Chromium over every page of the website
(tests/web/pages.py finds them in the URL conf), signed in and out, in English and Korean: axe-core finds no
serious or critical violation, and no page scrolls sideways on a 390 px phone. Screenshots of every page at 390 and
1280 px go to $ZIMAGE_SCREENSHOTS when set, to look at. One Chromium serves the whole sweep, each page is loaded
once and audited in each view (desktop light and dark, phone) as the view is switched on it.

axe-core comes from the npm registry: tests/web/axe/package-lock.json pins it, and the first run installs it with
`npm ci` under ~/.cache/zimage (once per lock). Skipped where Chromium or npm is not installed."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from generation.models import GenerationJob

from ..factories import UserFactory
from .pages import Page, page_world, website_pages
from .test_browser_e2e import CHROMIUM, Browser, wait_for
from .test_browser_edit_extend import press
from .test_browser_image_input import logged_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed"),
]

AXE_PACKAGE = Path(__file__).parent / "axe"
LANGUAGES = ("en", "ko")
PHONE, DESKTOP = 390, 1280
# axe's impact levels: "serious" and "critical" block someone from using the page; "moderate" and "minor" are
# reported by the audit but do not fail it.
BLOCKING = ("serious", "critical")


@pytest.fixture(scope="session")
def axe_script() -> str:
    """axe.min.js as npm installs it from the lock file, cached under ~/.cache/zimage/axe-<lock digest>."""
    lock = AXE_PACKAGE / "package-lock.json"
    digest = hashlib.sha256((AXE_PACKAGE / "package.json").read_bytes() + lock.read_bytes()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "zimage" / f"axe-{digest}"
    script = cache / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed (apt-get install npm): it installs axe-core")
        building = cache.with_name(f"{cache.name}.{os.getpid()}")
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir(parents=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(AXE_PACKAGE / name, building / name)
        subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=building,
            check=True,
            timeout=300,
        )
        try:
            building.rename(cache)
        except OSError:  # another run installed the same lock meanwhile
            shutil.rmtree(building)
    return script.read_text()


@pytest.fixture(scope="module")
def sweep_browser(tmp_path_factory):
    """One Chromium for the whole sweep: each visitor starts with its cookies cleared."""
    browser = Browser(tmp_path_factory.mktemp("sweep") / "chromium-profile")
    browser.call("Network.enable")
    yield browser
    browser.close()


@pytest.fixture
def world(live_server):
    """One object of every kind for a user with no language of their own (the cookie decides)."""
    return page_world(UserFactory())


def in_language(browser: Browser, url: str, language: str) -> None:
    browser.call("Network.setCookie", name=settings.LANGUAGE_COOKIE_NAME, value=language, url=url)


def sweep(browser: Browser, live_server, world, *, signed_in: bool, language: str) -> list[Page]:
    """Set the browser up as that visitor (no cookie of the last one) and list their pages."""
    browser.call("Network.clearBrowserCookies")
    browser.errors.clear()
    if signed_in:
        logged_in(browser, live_server, world.owner)
    in_language(browser, live_server.url, language)
    return website_pages(world, signed_in=signed_in)


def open_page(browser: Browser, live_server, page: Page, language: str) -> None:
    """Load the page (no settling time: what the audit needs is waited for) and put it in its state."""
    browser.open(live_server.url + page.url, settle=0)
    assert browser.evaluate("document.documentElement.lang") == language, page
    if page.prepare:
        browser.evaluate(page.prepare)
    if page.ready:
        wait_for(browser, page.ready, seconds=10)


def axe_violations(browser: Browser, axe_script: str) -> list[str]:
    """axe's serious and critical violations on the open page, one line per rule: rule, impact, where. axe is
    injected once per page load, then run as often as the page's layout or colours change."""
    if not browser.evaluate("typeof window.axe === 'object'"):
        browser.evaluate(axe_script)
    result = browser.call(
        "Runtime.evaluate",
        expression=(
            "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations"
            f".filter(v => {list(BLOCKING)!r}.includes(v.impact))"
            ".map(v => `${v.id} (${v.impact}): ${v.help} at `"
            " + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')))"
        ),
        awaitPromise=True,
        returnByValue=True,
    )
    assert "exceptionDetails" not in result, result
    return result["result"]["value"]


def screenshot(browser: Browser, name: str, width: int) -> None:
    folder = os.environ.get("ZIMAGE_SCREENSHOTS")
    if not folder:
        return
    time.sleep(0.2)
    shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
    Path(folder).mkdir(parents=True, exist_ok=True)
    Path(folder, f"{safe}-{width}.png").write_bytes(base64.b64decode(shot["data"]))


def set_view(browser: Browser, width: int, scheme: str = "light") -> None:
    """A phone (its viewport meta applies, scrollbars overlay) at 390 px, a desktop window at 1280; light or dark.
    Both apply to the open page as they do to the next: media queries and layout follow without a reload."""
    browser.call(
        "Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1, mobile=width == PHONE
    )
    browser.call("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": scheme}])


def scrolls_sideways(browser: Browser) -> list[int] | None:
    wide_as = browser.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    return wide_as if wide_as[0] > wide_as[1] else None


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("signed_in", [True, False], ids=["signed-in", "signed-out"])
def test_every_page_passes_axe_and_fits_a_phone(live_server, sweep_browser, world, axe_script, signed_in, language):
    """axe finds no serious or critical violation on a desktop (light and dark: the dark theme has its own
    contrast) nor on a phone (its own controls: the menu button), and no page scrolls sideways on the phone.
    Each page is loaded once: the views are switched on the open page, each checked as it is shown."""
    browser = sweep_browser
    pages = sweep(browser, live_server, world, signed_in=signed_in, language=language)
    assert len(pages) >= (30 if signed_in else 8)
    found, wide = {}, {}
    for page in pages:
        set_view(browser, DESKTOP)
        open_page(browser, live_server, page, language)
        name = f"{language}-{'in' if signed_in else 'out'}-{page.name}"
        for width, scheme in ((DESKTOP, "light"), (PHONE, "light"), (DESKTOP, "dark")):
            set_view(browser, width, scheme)
            if violations := axe_violations(browser, axe_script):
                found[f"{page.url} ({page.name}) @{width} {scheme}"] = violations
            if scheme == "light":
                screenshot(browser, name, width)
            if width == PHONE and (too_wide := scrolls_sideways(browser)):
                wide[f"{page.url} ({page.name})"] = too_wide
    assert found == {}, "\n".join(f"{url}\n  " + "\n  ".join(items) for url, items in found.items())
    assert wide == {}, "scroll sideways on a 390 px phone (scrollWidth, clientWidth)"


def test_the_header_keeps_its_links_on_one_row_on_a_desktop_and_fits_a_phone(live_server, sweep_browser, world):
    """Nine links and the actions: one row at 1280 px in both languages; at 390 px the menu button holds them and
    the header is no wider than the phone (the sweep checks every page too; this names the header)."""
    browser = sweep_browser
    for language in LANGUAGES:
        sweep(browser, live_server, world, signed_in=True, language=language)
        set_view(browser, DESKTOP)
        open_page(browser, live_server, Page("dashboard", reverse("generation:dashboard")), language)
        tops = browser.evaluate(
            "[...document.querySelectorAll('#site-nav li')].filter(li => li.offsetParent)"
            ".map(li => li.getBoundingClientRect().top)"
        )
        assert len(tops) >= 8 and len(set(tops)) == 1, (language, tops)
        assert browser.evaluate("!!document.querySelector('#site-nav a[href=\"/presets/\"]')")
        set_view(browser, PHONE)
        header = browser.evaluate("(h => [h.scrollWidth, h.clientWidth])(document.querySelector('.site-header'))")
        assert header[0] <= header[1] <= PHONE, (language, header)
        assert browser.evaluate("getComputedStyle(document.querySelector('[data-nav-toggle]')).display") != "none"


# --- the keyboard alone ------------------------------------------------------------------------------------------


def tab_to(browser: Browser, selector: str, *, limit: int = 120) -> None:
    """Press Tab until the focus is on the element `selector` names; fails when the Tab order never reaches it."""
    for _ in range(limit):
        if browser.evaluate(f"document.activeElement.matches({selector!r})"):
            return
        press(browser, "Tab")
    raise AssertionError(f"Tab never reached {selector}")


def type_text(browser: Browser, text: str) -> None:
    for char in text:
        browser.call("Input.dispatchKeyEvent", type="keyDown", key=char, text=char)
        browser.call("Input.dispatchKeyEvent", type="keyUp", key=char)


def test_generate_watch_open_and_download_with_the_keyboard_alone(module_worker, daphne, browser, tmp_path):
    """Key presses only (Tab, Enter, typed letters) from the generate page to a downloaded PNG, in Korean, with a
    real worker making the image and the job page following it over the WebSocket."""
    user = UserFactory(language="ko")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.call("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(downloads))
    logged_in(browser, daphne, user)
    browser.open(daphne.url + reverse("generation:generate"))

    tab_to(browser, "textarea[name=prompt]")
    type_text(browser, "a linen summer dress")
    tab_to(browser, "[data-generate-form] button[type=submit]")
    press(browser, "Enter")
    wait_for(browser, "/^\\/jobs\\/\\d+\\/$/.test(location.pathname)", seconds=30)
    job = GenerationJob.objects.get(owner=user)
    assert job.prompt == "a linen summer dress"

    # The job page follows the worker live; the finished image is a link the Tab order reaches.
    wait_for(browser, "document.querySelector('[data-job-live]').dataset.jobStatus === 'succeeded'", seconds=120)
    tab_to(browser, "[data-field=images] a")
    press(browser, "Enter")
    wait_for(browser, "location.pathname.startsWith('/gallery/images/')", seconds=30)
    image = job.images.get()
    assert browser.evaluate("location.pathname") == reverse("gallery:image", args=[image.uuid])

    tab_to(browser, "a.btn[href^='/media/files/']")
    press(browser, "Enter")
    deadline = time.monotonic() + 30
    while not [p for p in downloads.iterdir() if p.suffix == ".png"] and time.monotonic() < deadline:
        time.sleep(0.2)
    (saved,) = [p for p in downloads.iterdir() if p.suffix == ".png"]
    assert saved.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    image.file.open("rb")
    try:
        assert saved.read_bytes() == image.file.read()
    finally:
        image.file.close()
    assert browser.errors == []


def test_the_audit_sees_a_violation_when_there_is_one(live_server, browser, axe_script):
    """The sweep's probe works: an unnamed button and an image without alt text on a page are reported."""
    browser.open(live_server.url + reverse("core:landing"))
    browser.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend',"
        ' \'<button type="button"></button><img src="/static/img/favicon.svg">\')'
    )
    rules = {line.split(" ")[0] for line in axe_violations(browser, axe_script)}
    assert {"button-name", "image-alt"} <= rules


def test_the_phone_check_sees_a_page_that_scrolls_sideways(live_server, sweep_browser, world):
    """The sweep's width check works on a view switched on the open page: an 800 px block on a phone is caught."""
    sweep(sweep_browser, live_server, world, signed_in=False, language="en")
    set_view(sweep_browser, DESKTOP)
    open_page(sweep_browser, live_server, Page("landing", reverse("core:landing")), "en")
    sweep_browser.evaluate(
        "(b => { b.style.width = '800px'; b.style.height = '1px'; document.querySelector('main').append(b); })"
        "(document.createElement('div'))"
    )
    assert scrolls_sideways(sweep_browser) is None
    set_view(sweep_browser, PHONE)
    assert scrolls_sideways(sweep_browser) == [800, PHONE]
