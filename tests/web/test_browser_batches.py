"""A batch's page in Chromium under daphne: its counts by status follow the jobs live over the account's
WebSocket (/ws/jobs/) while a real worker draws them, without a reload."""

from __future__ import annotations

import pytest
from django.urls import reverse

from batches.services import batch_create

from ..factories import UserFactory
from .test_browser_e2e import CHROMIUM, wait_for
from .test_browser_image_input import logged_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed"),
]

COUNTS = (
    "Object.fromEntries([...document.querySelectorAll('[data-batch-counts] [data-status]')]"
    ".map((badge) => [badge.dataset.status, badge.textContent]))"
)


def test_a_batch_pages_counts_by_status_update_live_as_its_jobs_run(daphne, browser, start_worker, set_tier):
    set_tier("free", max_batch_jobs=10, max_queued_jobs=10)
    user = UserFactory(credits=10)
    batch = batch_create(user=user, prompts=["a red coat"], size_presets=["1:1", "instagram"], steps=1)
    logged_in(browser, daphne, user)
    browser.open(daphne.url + reverse("batches:batch", kwargs={"pk": batch.pk}))
    assert browser.evaluate(COUNTS) == {"queued": "Queued: 2"}
    browser.evaluate("window.notReloaded = true")

    start_worker(concurrency=1)

    wait_for(browser, f"JSON.stringify({COUNTS}) === JSON.stringify({{succeeded: 'Succeeded: 2'}})", seconds=180)
    assert browser.evaluate("window.notReloaded") is True
    assert browser.errors == []
