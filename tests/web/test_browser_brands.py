"""In a real headless Chromium: a brand kit's logo upload and its live placement preview (the canvas follows the
corner, size and opacity controls), the palette picker, and the generate page's style picker (three at most, each
weight shown) and kit selector, each submitted through the page's own form. Screenshots at 1280 and 390 px go to
$ZIMAGE_SCREENSHOTS when set; no page scrolls sideways at 390 px. Skipped where Chromium is not installed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from brands.models import BrandKit, LogoApply
from brands.services import brand_kit_create
from generation.engine.models_catalog import SDXL
from generation.models import GenerationJob

from ..factories import StyleFactory, UserFactory, png_bytes
from .test_browser_e2e import CHROMIUM, Browser, wait_for
from .test_browser_image_input import logged_in, screenshots

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed"),
]

CHOOSE_A_LOGO = """
(async () => {
  const canvas = document.createElement("canvas");
  canvas.width = 200; canvas.height = 100;
  const context = canvas.getContext("2d");
  context.fillStyle = "#e11"; context.fillRect(0, 0, 200, 100);
  const blob = await new Promise((done) => canvas.toBlob(done, "image/png"));
  const data = new DataTransfer();
  data.items.add(new File([blob], "logo.png", { type: "image/png" }));
  const input = document.querySelector('input[name="logo"]');
  input.files = data.files;
  input.dispatchEvent(new Event("change", { bubbles: true }));
  return input.files.length;
})()
"""
PREVIEW = "document.querySelector('[data-logo-preview]')"


def set_range(browser: Browser, name: str, value: str) -> None:
    browser.evaluate(
        f"(input => {{ input.value = '{value}'; input.dispatchEvent(new Event('input', {{ bubbles: true }})); }})"
        f"(document.querySelector('input[name={name}]'))"
    )


def no_sideways_scroll(browser: Browser) -> None:
    browser.call("Emulation.setDeviceMetricsOverride", width=390, height=900, deviceScaleFactor=1, mobile=False)
    wait_for(browser, "window.innerWidth === 390")
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390
    browser.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)


def test_a_logo_upload_and_the_placement_controls_redraw_the_preview_and_save(live_server, browser):
    user = UserFactory()
    logged_in(browser, live_server, user)
    browser.open(live_server.url + reverse("brands:kit-create"))
    assert browser.errors == []
    assert browser.evaluate(f"{PREVIEW}.dataset.logoBox") == ""  # no logo yet: the sample image alone

    browser.evaluate("document.querySelector('input[name=name]').value = 'Acme'")
    browser.evaluate("document.querySelector('[data-palette-add]').click()")
    browser.evaluate("document.querySelector('[data-palette-add]').click()")
    assert browser.evaluate("document.querySelectorAll('[data-palette-swatches] input[type=color]').length") == 2
    assert (
        browser.call("Runtime.evaluate", expression=CHOOSE_A_LOGO, awaitPromise=True, returnByValue=True)["result"][
            "value"
        ]
        == 1
    )
    # The default placement: bottom right, 15 % of the 640 px sample's width, 3 % margins (19 px).
    assert wait_for(browser, f"{PREVIEW}.dataset.logoBox") == "525,333,96,48"
    before = browser.evaluate(f"{PREVIEW}.toDataURL()")

    browser.evaluate("document.querySelector('input[name=logo_corner][value=top-left]').click()")
    assert browser.evaluate(f"{PREVIEW}.dataset.logoBox") == "19,19,96,48"
    set_range(browser, "logo_scale", "0.3")
    assert browser.evaluate(f"{PREVIEW}.dataset.logoBox") == "19,19,192,96"
    assert browser.evaluate("document.querySelector('[data-range-value=logo_scale]').value") == "0.3"
    moved = browser.evaluate(f"{PREVIEW}.toDataURL()")
    set_range(browser, "logo_opacity", "0.4")
    faded = browser.evaluate(f"{PREVIEW}.toDataURL()")
    assert len({before, moved, faded}) == 3
    # The logo's red, faded to 40 % over the sample: less red than at full opacity.
    red = browser.evaluate(f"{PREVIEW}.getContext('2d').getImageData(100, 60, 1, 1).data[0]")
    assert 120 < red < 250
    browser.evaluate("document.querySelector('select[name=logo_apply]').value = 'per_job'")
    screenshots(browser, "brand-kit-form")
    no_sideways_scroll(browser)

    browser.call("Runtime.evaluate", expression="document.querySelector('[data-kit-form] button[type=submit]').click()")
    kit = wait_for_kit(user)
    assert (kit.name, kit.logo_corner, kit.logo_scale, kit.logo_opacity, kit.logo_apply) == (
        "Acme",
        "top-left",
        0.3,
        0.4,
        "per_job",
    )
    assert len(kit.palette) == 2 and bool(kit.logo)
    assert browser.errors == []


def wait_for_kit(user) -> BrandKit:
    from ..waiting import wait_until

    return wait_until(lambda: BrandKit.objects.filter(owner=user).first(), timeout=15, message="the kit to be saved")


def test_the_style_picker_takes_three_styles_and_the_kit_selector_asks_for_the_logo(live_server, browser, set_tier):
    set_tier("free", max_brand_kits=2)
    user = UserFactory()
    styles = [StyleFactory(name=f"Look {n}") for n in range(4)]
    for_sdxl = StyleFactory(name="Ink", base_model=SDXL)
    per_job = brand_kit_create(
        owner=user, name="Acme", logo=png_bytes((40, 40), mode="RGBA"), logo_apply=LogoApply.PER_JOB
    )
    brand_kit_create(owner=user, name="Plain")
    logged_in(browser, live_server, user)
    browser.open(live_server.url + reverse("generation:generate"))
    assert browser.errors == []
    box = "document.querySelector('input[name=styles][value=\"{}\"]')"
    other_model = box + ".closest('li').querySelector('[data-style-other-model]').hidden"
    assert browser.evaluate(other_model.format(for_sdxl.pk)) is False  # this job draws with Z-Image-Turbo
    assert browser.evaluate(other_model.format(styles[0].pk)) is True

    for style in styles[:3]:
        browser.evaluate(f"{box.format(style.pk)}.click()")
    assert browser.evaluate(f"{box.format(styles[3].pk)}.disabled") is True  # three at most
    assert browser.evaluate("document.querySelector('[data-style-limit]').hidden") is False
    browser.evaluate(f"{box.format(styles[2].pk)}.click()")
    assert browser.evaluate(f"{box.format(styles[3].pk)}.disabled") is False
    set_range(browser, f"style_weight_{styles[0].pk}", "-0.5")
    assert (
        browser.evaluate(
            f"document.querySelector('input[name=style_weight_{styles[0].pk}]').parentElement.querySelector('output').value"
        )
        == "-0.5"
    )

    apply_field = "document.querySelector('[data-apply-logo-field]').hidden"
    assert browser.evaluate(apply_field) is True
    select_kit = (
        "(s => {{ s.value = '{}'; s.dispatchEvent(new Event('change')); }})(document.getElementById('id_brand_kit'))"
    )
    browser.evaluate(select_kit.format(per_job.pk))
    assert browser.evaluate(apply_field) is False
    browser.evaluate("document.querySelector('input[name=apply_logo]').click()")
    screenshots(browser, "generate-style-picker")
    no_sideways_scroll(browser)

    browser.evaluate("document.querySelector('textarea[name=prompt]').value = 'a linen dress'")
    browser.call("Runtime.evaluate", expression="document.querySelector('[data-generate-form]').requestSubmit()")
    job = wait_for_job(user)
    assert [(style["id"], style["weight"]) for style in job.styles] == [(styles[0].pk, -0.5), (styles[1].pk, 1.0)]
    assert (job.brand_kit_id, job.apply_logo) == (per_job.pk, True)
    assert browser.errors == []


def wait_for_job(user) -> GenerationJob:
    from ..waiting import wait_until

    return wait_until(lambda: GenerationJob.objects.filter(owner=user).first(), timeout=15, message="the job")


def test_the_styles_and_kits_pages_fit_a_phone(live_server, browser):
    user = UserFactory()
    StyleFactory(name="Film grain with a long name that wraps", trigger_words="grainy, analog, 35mm")
    StyleFactory(name="Our look", owner=user)
    brand_kit_create(owner=user, name="Acme", palette=["#112233", "#ffcc00"], logo=png_bytes((80, 40), mode="RGBA"))
    logged_in(browser, live_server, user)
    for name in ("brands:styles", "brands:kits"):
        browser.open(live_server.url + reverse(name))
        assert browser.errors == []
        screenshots(browser, name.replace(":", "-"))
        no_sideways_scroll(browser)
