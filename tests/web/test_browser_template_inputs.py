"""In a real headless Chromium: the generate page swaps the template's input fields when the template changes
(only the chosen template's are shown and sent), and locks the model to the template's."""

from __future__ import annotations

import pytest

from generation.models import GenerationJob
from templates_app.services import seed_curated_templates

from .test_browser_e2e import CHROMIUM, Browser, wait_for
from .test_browser_image_input import logged_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed"),
]

SHOWN = "!document.querySelector('[data-template-inputs=\"3d-render\"]').hidden"


def choose_template(browser: Browser, slug: str) -> None:
    browser.evaluate(
        f"(s => {{ s.value = {slug!r}; s.dispatchEvent(new Event('change', {{bubbles: true}})); }})"
        "(document.querySelector('[name=template]'))"
    )


def test_the_inputs_swap_with_the_template_and_only_the_chosen_ones_are_sent(live_server, browser, user):
    seed_curated_templates()
    logged_in(browser, live_server, user)
    browser.open(f"{live_server.url}/generate/")
    assert browser.evaluate(SHOWN) is False, "no template chosen: no template's inputs"
    choose_template(browser, "3d-render")
    wait_for(browser, SHOWN)
    assert browser.evaluate("document.querySelector('[name=input_lighting_setup]').disabled") is False
    assert browser.evaluate("document.querySelector('[name=model]').disabled") is True, "the template fixes it"
    browser.evaluate("document.querySelector('[name=input_lighting_setup]').value = 'neon'")
    choose_template(browser, "fashion-lookbook")
    wait_for(browser, "document.querySelector('[data-template-inputs=\"3d-render\"]').hidden")
    assert (
        browser.evaluate("new FormData(document.querySelector('[data-generate-form]')).has('input_lighting_setup')")
        is False
    )
    assert browser.evaluate("document.querySelector('[name=model]').disabled") is True
    choose_template(browser, "3d-render")
    wait_for(browser, SHOWN)
    browser.evaluate("document.querySelector('[name=prompt]').value = 'a futuristic car'")
    browser.evaluate("document.querySelector('[data-generate-form]').requestSubmit()")
    wait_for(browser, "location.pathname.startsWith('/jobs/')")
    job = GenerationJob.objects.get()
    assert job.inputs["lighting_setup"] == {"value": "neon", "prompt": "neon lighting, vivid coloured reflections"}
    assert browser.errors == []


def test_without_a_template_the_model_is_chosen_and_its_limits_shown(live_server, browser, user):
    logged_in(browser, live_server, user)
    browser.open(f"{live_server.url}/generate/")
    browser.evaluate(
        "(s => { s.value = 'sdxl'; s.dispatchEvent(new Event('change', {bubbles: true})); })"
        "(document.querySelector('[name=model]'))"
    )
    wait_for(browser, "document.querySelector('[data-limits]').textContent.includes('Stable Diffusion XL')")
    assert browser.evaluate("document.querySelector('[name=steps]').max") == "100"
    wait_for(browser, "document.querySelector('[data-estimate-model]').textContent.startsWith('Stable Diffusion XL')")
    assert browser.errors == []
