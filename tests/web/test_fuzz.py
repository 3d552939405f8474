"""Hypothesis-generated prompts through the website's generate form: never a 5xx, and never a stored XSS.

Prompts mix 10k-character strings, NUL bytes, right-to-left text, and HTML/JS fragments. A valid one becomes a
job whose pages must show the prompt escaped; an invalid one must be refused with a form error.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generation.models import GenerationJob

from ..factories import UserFactory
from .conftest import login

pytestmark = pytest.mark.django_db

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)",
    "javascript:alert(1)",
    "</textarea><svg onload=alert(1)>",
    "{{ request }}{% debug %}",
]
RTL = ["\u202e", "مرحبا بالعالم", "שלום", "\u200f"]

prompts = st.one_of(
    st.text(min_size=0, max_size=300),
    st.lists(st.sampled_from(PAYLOADS + RTL + ["a red dress", "\x00", " "]), min_size=1, max_size=8).map("".join),
    st.builds(lambda base, n: (base * n)[:10_000], st.sampled_from([*PAYLOADS, "x"]), st.integers(300, 2000)),
)

PAGES = ["generation:dashboard", "generation:jobs"]


def assert_escaped(html: str, prompt: str) -> None:
    for dangerous in ("<script>alert", "<img src=x", "<svg onload", "onmouseover='alert"):
        if dangerous in prompt:
            assert dangerous not in html, f"{dangerous!r} rendered unescaped"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(prompt=prompts, negative=st.one_of(st.just(""), st.sampled_from(PAYLOADS + RTL), st.text(max_size=50)))
def test_the_generate_form_never_errors_and_never_renders_a_prompt_unescaped(db, prompt, negative):
    fuzz_user = UserFactory(tier="enterprise", credits=100)
    client = login(fuzz_user)
    before = GenerationJob.objects.filter(owner=fuzz_user).count()
    response = client.post(
        reverse("generation:generate"),
        {"production_path": "fashion", "prompt": prompt, "negative_prompt": negative, "num_images": "1"},
    )
    assert response.status_code in (200, 302), response.status_code
    created = GenerationJob.objects.filter(owner=fuzz_user).count() - before
    if response.status_code == 200:  # refused: the form is shown again with its errors, nothing stored
        assert created == 0 and response.context["form"].errors
        assert_escaped(response.content.decode(), prompt)
        return
    assert created == 1
    job = GenerationJob.objects.filter(owner=fuzz_user).latest("created_at")
    pages = [reverse("generation:job", args=[job.pk]), *(reverse(name) for name in PAGES)]
    for url in pages:
        page = client.get(url)
        assert page.status_code == 200, (url, page.status_code)
        assert_escaped(page.content.decode(), job.prompt + job.negative_prompt)
    if "<script>alert" in job.prompt[:200]:  # the prompt is on its page, escaped: the check above is not vacuous
        assert "&lt;script&gt;alert" in client.get(pages[0]).content.decode()


GALLERY_PARAMETERS = ["folder", "path", "favourite", "tag", "q", "created_after", "created_before", "page", "utm"]
GALLERY_VALUES = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40),
    st.integers(-(2**80), 2**80).map(str),  # past the 64-bit range of ids, either way
    st.sampled_from(["none", "true", "9223372036854775808", "\x00", "2026-13-45", "9999-12-31"]),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(query=st.dictionaries(st.sampled_from(GALLERY_PARAMETERS), GALLERY_VALUES, max_size=4))
def test_the_gallery_grid_never_errors_on_any_query(db, query):
    client = login(UserFactory())

    response = client.get(reverse("gallery:list"), query)

    assert response.status_code in (200, 404), (query, response.status_code)  # 404: a folder id not theirs
