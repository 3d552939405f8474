"""Korean and English throughout (#22): every string the code marks has a Korean entry, every page and form error
renders without English for a Korean reader, the switcher and the profile remember the choice, and the API answers
in the caller's Accept-Language with its error codes unchanged.

The English detector is a heuristic: the visible text and the attributes people read (placeholder, title,
aria-label, alt, a button's value, data-confirm) minus the user's own data and model names must hold no run of
ASCII letters outside ALLOWED, a short list of names that stay as they are in Korean text.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.template.loader import render_to_string
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation
from PIL import Image

from accounts.services import create_api_key
from gallery.services import create_folder, create_share_link, trash_image
from generation.engine.models_catalog import MODELS
from templates_app.services import create_prompt_preset
from templates_app.views import style_prompts

from ..conftest import client_for
from ..factories import GenerationJobFactory, UserFactory, stored_image

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)
KO_DIR = Path(settings.LOCALE_PATHS[0]) / "ko" / "LC_MESSAGES"
# What makemessages reads: the apps, the wiring, the templates and the static JavaScript.
SOURCES = ["accounts", "core", "gallery", "generation", "scenes", "templates_app", "webhooks", "zimage", "templates"]
SOURCES += [name for name in ("batches", "brands", "compat", "static") if (ROOT / name).is_dir()]

# Names Korean text writes in Latin letters: the brand, protocols and formats, the model family in the hero line,
# the API header syntax, units, and the switcher's own "English" (a language is named in its own language).
ALLOWED = {
    "zimage",
    "API",
    "REST",
    "WebSocket",
    "SDXL",
    "Z",
    "Image",
    "Turbo",
    "IP",
    "Adapter",
    "PNG",
    "JPEG",
    "WebP",
    "zip",
    "CMS",
    "GPU",
    "Redis",
    "px",
    "English",
    "p50",
    "p95",
    "MiB",
    "Idempotency",
    "Key",
    "UTC",
    "AI",
    "min",  # a plan's API rate, "20/min", as the throttle settings write it
    "Ctrl",
    "Shift",
    "Space",
    "V",
    "E",
    "I",  # keys as printed on the keyboard (the mask painter's shortcuts)
    "LoRA",
    "safetensors",  # the style adapters' kind and file format, as the tools that make them name them
    "JSON",
}
WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
VERSION = re.compile(r"v\d+")  # a template's version, "Lookbook v2"


# --- (a) the catalogs -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> dict[str, polib.POFile]:
    """What Django's makemessages finds in the source today, run on a copy so the real catalog is not touched.
    makemessages needs GNU gettext's xgettext (a development tool; running the site needs none)."""
    if shutil.which("xgettext") is None:
        pytest.skip("GNU gettext (xgettext) is not installed: apt-get install gettext")
    copy = tmp_path_factory.mktemp("makemessages")
    for name in SOURCES:
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__", "migrations"))
    (copy / "locale").mkdir()
    cwd = os.getcwd()
    os.chdir(copy)
    try:
        with override_settings(LOCALE_PATHS=[str(copy / "locale")]):
            call_command("makemessages", locale=["ko"], verbosity=0)
            call_command("makemessages", locale=["ko"], domain="djangojs", verbosity=0)
    finally:
        os.chdir(cwd)
    out = copy / "locale" / "ko" / "LC_MESSAGES"
    return {domain: polib.pofile(str(out / f"{domain}.po")) for domain in ("django", "djangojs")}


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_every_marked_string_has_a_korean_translation(extracted, domain):
    ours = polib.pofile(str(KO_DIR / f"{domain}.po"))
    translated = {(e.msgctxt, e.msgid) for e in ours.translated_entries() if "fuzzy" not in e.flags}
    missing = [e.msgid for e in extracted[domain] if (e.msgctxt, e.msgid) not in translated]
    assert missing == []
    assert len(extracted[domain]) > 0


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_the_compiled_catalogs_are_in_the_repository(domain):
    """A fresh clone runs in Korean with nothing but Python: the .mo files are committed, not built."""
    mo = polib.mofile(str(KO_DIR / f"{domain}.mo"))
    assert len(mo) > 1


def test_the_javascript_catalog_serves_korean(client):
    response = client.get(reverse("javascript-catalog"), HTTP_ACCEPT_LANGUAGE="ko")
    assert response.status_code == 200
    body = response.content.decode()
    assert "django.gettext" in body
    assert "복사됨" in body or "\\ubcf5\\uc0ac\\ub428" in body  # "Copied", as JSON may escape it


# --- (b) every page in Korean ----------------------------------------------------------------------------------


class _Readable(HTMLParser):
    """The text a reader meets: text nodes outside script/style/code, and the attributes that are read out."""

    ATTRIBUTES = ("placeholder", "title", "aria-label", "alt", "data-confirm")
    SKIP = {"script", "style", "code", "pre"}

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in self.SKIP:
            self.skipping += 1
        for name in self.ATTRIBUTES:
            if attributes.get(name):
                self.texts.append(attributes[name])
        if tag == "input" and attributes.get("type") in {"submit", "button"} and attributes.get("value"):
            self.texts.append(attributes["value"])

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping and data.strip():
            self.texts.append(data)


def english_left(html: str, data: list[str]) -> list[str]:
    """Each readable text that still has an English word once the user's data and model names are taken out."""
    parser = _Readable()
    parser.feed(html)
    strip = sorted(
        {str(value) for value in data if value} | {str(model.label) for model in MODELS.values()}, key=len, reverse=True
    )
    leftovers = []
    for text in parser.texts:
        rest = text
        for value in strip:
            rest = rest.replace(value, " ")
        words = [word for word in WORD.findall(rest) if word not in ALLOWED and not VERSION.fullmatch(word)]
        if words:
            leftovers.append(f"{' '.join(words)}  ←  {text.strip()[:120]}")
    return leftovers


def report(leftovers: dict[str, list[str]]) -> str:
    return "English left:\n" + "\n".join(f"{url}: {item}" for url, items in leftovers.items() for item in items)


@pytest.fixture
def world(user, template, story):
    """One of everything a page shows, owned by `user`, and the strings that are the user's own data."""
    job = GenerationJobFactory(owner=user, template=template, running=True, progress_step=2)
    finished = GenerationJobFactory(owner=user, template=template, succeeded=True)
    image = stored_image(user)
    trashed = stored_image(user)
    trash_image(image=trashed)
    folder = create_folder(owner=user, name="Campaign")
    create_share_link(owner=user, image=image, expires_at=None)
    create_share_link(owner=user, folder=folder, expires_at=None)
    key, _raw = create_api_key(user=user, name="CMS")
    chapter = story.chapters.get()
    scene = chapter.scenes.get()
    character = story.characters.get()
    preset = create_prompt_preset(owner=user, name="Window light", text="soft window light")
    data = [
        user.email,
        template.name,
        template.description,
        template.sample_prompt,
        template.slug,
        story.title,
        folder.name,
        key.name,
        key.prefix,
        image.prompt_used,
        job.prompt,
        finished.prompt,
        trashed.prompt_used,
    ]
    data += [c.name for c in story.characters.all()] + [c.description for c in story.characters.all()]
    data += [chapter.title] + [s.description for s in chapter.scenes.all()]
    data += [tag.name for tag in image.tags.all()] + [entry.reason for entry in user.credit_entries.all()]
    data += [image.model, image.backend, job.model, finished.model]  # model ids and the backend name stay as they are
    data += [image.negative_prompt_used, job.negative_prompt, finished.negative_prompt]
    data += [preset.name, preset.text]
    data += [*style_prompts(template), "nothing-matches"]  # prompt words (like prompts, not translated), a search
    pages = [
        reverse("generation:dashboard"),
        reverse("generation:generate"),
        reverse("generation:generate") + "?template=lookbook",
        reverse("generation:generate") + f"?from_image={image.uuid}",
        reverse("generation:jobs"),
        reverse("generation:jobs") + "?status=running",
        reverse("generation:job", args=[job.pk]),
        reverse("generation:job", args=[finished.pk]),
        reverse("gallery:list"),
        reverse("gallery:list") + f"?folder={folder.pk}",
        reverse("gallery:list") + "?q=nothing-matches",
        reverse("gallery:image", args=[image.uuid]),
        reverse("gallery:trash"),
        reverse("templates_app:list"),
        reverse("templates_app:detail", args=[template.slug]),
        reverse("scenes:list"),
        reverse("scenes:story", args=[story.pk]),
        reverse("scenes:chapter", args=[chapter.pk]),
        reverse("scenes:story-edit", args=[story.pk]),
        reverse("scenes:story-delete", args=[story.pk]),
        reverse("scenes:chapter-edit", args=[chapter.pk]),
        reverse("scenes:chapter-delete", args=[chapter.pk]),
        reverse("scenes:scene-edit", args=[scene.pk]),
        reverse("scenes:scene-delete", args=[scene.pk]),
        reverse("scenes:character-edit", args=[character.pk]),
        reverse("scenes:character-delete", args=[character.pk]),
        reverse("presets:list"),
        reverse("presets:edit", args=[preset.pk]),
        reverse("presets:delete", args=[preset.pk]),
        reverse("accounts:profile"),
        reverse("core:landing"),
    ]
    return pages, data


def brand_world(user) -> tuple[list[str], list[str]]:
    """The styles and brand-kit pages, and an image with a kit's logo on it (both downloads offered)."""
    from brands.logo import composite_logo
    from brands.services import brand_kit_create
    from gallery.services import open_stored_image, store_generated_image

    from ..factories import StyleFactory, png_bytes

    public, own = StyleFactory(name="Film grain"), StyleFactory(name="Our look", owner=user, trigger_words="ourlook")
    kit = brand_kit_create(
        owner=user,
        name="Acme",
        palette=["#112233"],
        tone_words="warm",
        avoid_words="clutter",
        default_styles=[{"id": public.pk, "weight": 0.5}],
        logo=png_bytes((40, 20), mode="RGBA", color=(255, 0, 0, 128)),
        logo_apply="all",
    )
    job = GenerationJobFactory(owner=user, succeeded=True, brand_kit=kit, apply_logo=True)
    job.styles = [{"id": public.pk, "name": public.name, "weight": 0.5}]
    job.save(update_fields=["styles"])
    drawn = Image.new("RGB", (job.width, job.height), (40, 90, 160))
    logoed = store_generated_image(
        job=job,
        index=0,
        image=composite_logo(
            drawn, open_stored_image(kit.logo.name), corner="top-left", margin=0, scale=0.2, opacity=1
        ),
        original=drawn,
        prompt_used=job.prompt,
        negative_prompt_used="",
        seed=job.seed,
        backend="tiny",
        generation_seconds=0.1,
    )
    pages = [
        reverse("brands:styles"),
        reverse("brands:kits"),
        reverse("brands:kit-create"),
        reverse("brands:kit-edit", args=[kit.pk]),
        reverse("gallery:image", args=[logoed.uuid]),
    ]
    data = [public.name, own.name, own.trigger_words, public.trigger_words, kit.name, "#112233", "warm", "clutter"]
    return pages, [*data, job.prompt, job.model, logoed.prompt_used]


def korean_client(user, how: str) -> Client:
    if how == "profile":
        user.language = "ko"
        user.save(update_fields=["language"])
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
    else:
        client = Client(HTTP_ACCEPT_LANGUAGE="ko")
    client.force_login(user)
    return client


@pytest.mark.parametrize("how", ["accept-language", "profile"])
def test_every_signed_in_page_is_korean(user, world, how):
    pages, data = world
    brand_pages, brand_data = brand_world(user)
    pages, data = pages + brand_pages, data + brand_data
    client = korean_client(user, how)
    leftovers = {}
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert '<html lang="ko">' in response.content.decode(), url
        if found := english_left(response.content.decode(), data):
            leftovers[url] = found
    assert not leftovers, report(leftovers)


def test_signed_out_pages_are_korean_for_a_browser_that_asks(client, user):
    client = Client(HTTP_ACCEPT_LANGUAGE="ko-KR,ko;q=0.9,en;q=0.5")
    pages = [
        reverse("core:landing"),
        reverse("accounts:login"),
        reverse("accounts:signup"),
        reverse("accounts:signup-sent"),
        reverse("accounts:password_reset"),
        reverse("accounts:password_reset_done"),
        reverse("accounts:password_reset_confirm", args=["x", "y"]),
        reverse("accounts:password_reset_complete"),
    ]
    leftovers = {}
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        if found := english_left(response.content.decode(), [user.email]):
            leftovers[url] = found
    assert not leftovers, report(leftovers)


def test_the_curated_templates_read_in_the_readers_language(user):
    """A curated template's name and description come from the catalog; a staff member's own template reads as
    written; the API keeps the stored English (a record, not a page)."""
    from templates_app.seed_templates import CURATED_TEMPLATES

    from ..factories import TemplateFactory

    entry = next(entry for entry in CURATED_TEMPLATES if entry["slug"] == "banner-from-product-shot")
    curated = TemplateFactory(**entry)
    TemplateFactory(slug="our-own", name="Our own look")
    pages = [
        reverse("templates_app:list"),
        reverse("templates_app:detail", args=[curated.slug]),
        reverse("generation:generate"),
        reverse("scenes:list"),
    ]
    korean, english = korean_client(user, "accept-language"), Client(HTTP_ACCEPT_LANGUAGE="en")
    english.force_login(user)
    for url in pages:  # every page but the curated one's own lists the staff's template too
        html = korean.get(url).content.decode()
        assert "제품 사진으로 배너 만들기" in html and "Banner from product shot" not in html, url
        assert "Our own look" in html or url == pages[1], url
        assert "Banner from product shot" in english.get(url).content.decode(), url
    detail = korean.get(reverse("templates_app:detail", args=[curated.slug])).content.decode()
    assert "넓은 배너 캔버스" in detail
    assert client_for(user).get(f"/api/v1/templates/{curated.slug}", HTTP_ACCEPT_LANGUAGE="ko").json()["name"] == (
        "Banner from product shot"
    )


def test_a_share_page_is_korean_for_a_korean_visitor(user):
    image = stored_image(user)
    link = create_share_link(owner=user, image=image, expires_at=None)
    response = Client(HTTP_ACCEPT_LANGUAGE="ko").get(reverse("gallery:share", args=[link.token]))
    assert response.status_code == 200
    assert english_left(response.content.decode(), [image.prompt_used]) == []


def test_the_browser_decides_for_a_user_without_a_choice(user):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    assert '<html lang="en">' in client.get(reverse("generation:dashboard")).content.decode()


@pytest.mark.parametrize(
    ("template_name", "context"),
    [
        ("accounts/verify_email.txt", {"verify_url": "https://z.example/v", "credits": 50}),
        ("accounts/verify_email_subject.txt", {}),
        (
            "accounts/signup_existing_email.txt",
            {"login_url": "https://z.example/l", "reset_url": "https://z.example/r"},
        ),
        ("accounts/signup_existing_subject.txt", {}),
        ("accounts/password_reset_email.txt", {"protocol": "https", "domain": "z.example", "uid": "u", "token": "t"}),
        ("accounts/password_reset_subject.txt", {}),
    ],
)
def test_e_mails_are_korean(user, template_name, context):
    with translation.override("ko"):
        text = render_to_string(template_name, {"user": user, "email": user.email, **context})
    text = re.sub(r"https?://\S+", " ", text)
    words = [w for w in WORD.findall(text.replace(user.email, " ")) if w not in ALLOWED]
    assert words == []


# --- (c) form errors in Korean ---------------------------------------------------------------------------------


def test_every_website_form_error_is_korean(user, world, story, image):
    _pages, data = world
    client = korean_client(user, "accept-language")
    chapter = story.chapters.get()
    folder = create_folder(owner=user, name="Errors")
    data += [
        folder.name,
        "fr",
        "nowhere",
        "wild",
        "huge",
        "middle",
        "sideways",
    ]  # refused choices are echoed in the errors
    posts = [
        (reverse("generation:generate"), {"prompt": "", "num_images": "99", "seed": "-1"}),
        (reverse("scenes:list"), {"title": "", "production_path": "nowhere"}),
        (reverse("scenes:chapter-create", args=[story.pk]), {"number": "0"}),
        (reverse("scenes:character-create", args=[story.pk]), {"name": ""}),
        (reverse("scenes:scene-create", args=[chapter.pk]), {"scene_number": "x", "description": ""}),
        (reverse("gallery:folder-create"), {"name": ""}),
        (reverse("brands:styles"), {"name": "", "base_model": "nowhere", "default_weight": "9"}),
        (
            reverse("brands:kit-create"),
            {"palette": "#000000 " * 9, "logo_corner": "middle", "logo_margin": "2", "logo_apply": "sideways"},
        ),
        (reverse("gallery:bulk"), {"action": "move"}),
        (reverse("gallery:bulk"), {"action": "tag", "tags": " , ", "ids": [str(image.uuid)]}),
        (reverse("scenes:story-edit", args=[story.pk]), {"title": "", "production_path": "nowhere"}),
        (reverse("scenes:chapter-edit", args=[chapter.pk]), {"number": "0"}),
        (reverse("scenes:scene-edit", args=[chapter.scenes.get().pk]), {"scene_number": "x", "description": ""}),
        (
            reverse("scenes:character-edit", args=[story.characters.get().pk]),
            {"name": "", "reference_strength": "9", "reference_image": SimpleUploadedFile("a.png", b"not an image")},
        ),
        (reverse("presets:list"), {"name": "", "kind": "sideways", "text": ""}),
        (reverse("gallery:image-organise", args=[image.uuid]), {"folder": "nope", "tags": "x" * 60}),
        (reverse("generation:image-vary", args=[image.uuid]), {"strength": "wild"}),
        (reverse("generation:image-extend", args=[image.uuid]), {"size_preset": "huge", "anchor": "middle"}),
        (reverse("accounts:key-create"), {"name": ""}),
        (reverse("accounts:language"), {"language": "fr"}),
    ]
    leftovers = {}
    for url, body in posts:
        response = client.post(url, body, follow=True)
        assert response.status_code in (200, 400), url
        html = response.content.decode()
        assert 'class="errorlist"' in html or "alert-error" in html, url
        if found := english_left(html, data):
            leftovers[url] = found
    assert not leftovers, report(leftovers)


def test_signed_out_form_errors_are_korean(user):
    client = Client(HTTP_ACCEPT_LANGUAGE="ko")
    posts = [
        (reverse("accounts:login"), {"username": "nobody@example.com", "password": "wrong"}),
        (reverse("accounts:signup"), {"email": "not-an-address", "password1": "a", "password2": "b"}),
        (reverse("accounts:password_reset"), {"email": "not-an-address"}),
    ]
    for url, body in posts:
        response = client.post(url, body)
        html = response.content.decode()
        assert 'class="errorlist"' in html, url
        assert english_left(html, ["nobody@example.com", "not-an-address"]) == [], url


# --- (d) the switcher and the profile ----------------------------------------------------------------------------


def test_the_switcher_changes_the_language_of_a_visitor(client):
    response = client.post(reverse("set_language"), {"language": "ko", "next": reverse("accounts:login")})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ko"
    page = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="ko">' in page
    assert "로그인" in page


def test_a_signed_in_users_switch_is_saved_and_follows_them_to_a_new_session(user):
    first = Client(HTTP_ACCEPT_LANGUAGE="en")
    first.force_login(user)
    first.post(reverse("set_language"), {"language": "ko", "next": reverse("generation:dashboard")})
    user.refresh_from_db()
    assert user.language == "ko"
    later = Client(HTTP_ACCEPT_LANGUAGE="en")  # another browser: no cookie, English asked for
    later.force_login(user)
    assert '<html lang="ko">' in later.get(reverse("generation:dashboard")).content.decode()


def test_the_header_offers_the_other_language(user):
    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    english.force_login(user)
    assert 'name="language" value="ko"' in english.get(reverse("generation:dashboard")).content.decode()


def test_the_profile_saves_a_language_and_can_give_the_choice_back_to_the_browser(user):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    response = client.post(reverse("accounts:language"), {"language": "ko"}, follow=True)
    assert "언어 설정을 저장했습니다." in response.content.decode()
    user.refresh_from_db()
    assert user.language == "ko"
    client.post(reverse("accounts:language"), {"language": ""})
    user.refresh_from_db()
    assert user.language == ""
    assert '<html lang="en">' in client.get(reverse("accounts:profile")).content.decode()


def test_an_unknown_language_is_refused_and_nothing_is_saved(user):
    client = Client(HTTP_ACCEPT_LANGUAGE="ko")
    client.force_login(user)
    response = client.post(reverse("accounts:language"), {"language": "fr"}, follow=True)
    assert "alert-error" in response.content.decode()
    user.refresh_from_db()
    assert user.language == ""


def test_e_mails_go_out_in_the_language_of_the_request(client):
    Client(HTTP_ACCEPT_LANGUAGE="ko").post(
        reverse("accounts:signup"),
        {"email": "new@example.com", "password1": "long-pass-9876", "password2": "long-pass-9876"},
    )
    assert len(mail.outbox) == 1
    assert "zimage 이메일 주소를 인증하세요" in mail.outbox[0].subject


# --- (e) the API in the caller's language ------------------------------------------------------------------------


def test_api_validation_errors_are_korean_and_keep_their_code(user):
    api = client_for(user)
    response = api.post("/api/v1/generate", {"prompt": ""}, format="json", HTTP_ACCEPT_LANGUAGE="ko")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "prompt" in error["fields"]
    assert not WORD.search(error["fields"]["prompt"][0])


def test_drf_own_errors_are_korean_and_keep_their_code(client):
    response = client.get("/api/v1/jobs", HTTP_ACCEPT_LANGUAGE="ko")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "not_authenticated"
    assert re.search("[가-힣]", error["message"])


def test_an_unknown_endpoint_answers_in_korean(client):
    error = client.get("/api/v1/nowhere/", HTTP_ACCEPT_LANGUAGE="ko").json()["error"]
    assert error["code"] == "not_found"
    assert "엔드포인트" in error["message"]


def test_a_domain_error_is_korean_and_keeps_its_code():
    poor = UserFactory(credits=0)
    response = client_for(poor).post(
        "/api/v1/generate", {"prompt": "a red dress"}, format="json", HTTP_ACCEPT_LANGUAGE="ko"
    )
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "insufficient_credits"
    assert "크레딧" in error["message"]


def test_an_invalid_confirmation_link_is_korean():
    response = Client(HTTP_ACCEPT_LANGUAGE="ko").get(reverse("accounts:verify-email", args=["not-a-token"]))
    assert response.status_code == 400
    assert english_left(response.content.decode(), []) == []


# Files a style upload refuses from their header (generation.engine.diffusion.lora.check_lora_file), and the tool
# and format names its messages keep in Latin letters (the ones the reader converts the file with).
LORA_REFUSALS = {
    "too short": b"\x01\x02",
    "not JSON": struct.pack("<Q", 4) + b"nope",
    "no tensors": struct.pack("<Q", 2) + b"{}",
    "a pickle": b"\x80\x04K\x01." + bytes(8),
    "a zip": b"PK\x03\x04" + bytes(8),
}
LORA_TOOLS = ["PyTorch", ".pt/.ckpt/.bin", "Python pickle", "pickle", "kohya", "diffusers", ".safetensors"]


@pytest.mark.parametrize("content", LORA_REFUSALS.values(), ids=LORA_REFUSALS.keys())
def test_a_refused_style_file_is_explained_in_korean_on_the_api_and_the_page(user, set_tier, content):
    set_tier("free", max_private_styles=5)
    body = {"name": "Mine", "base_model": "Tongyi-MAI/Z-Image-Turbo"}
    upload = SimpleUploadedFile("style.safetensors", content, content_type="application/octet-stream")
    response = client_for(user).post(
        "/api/v1/styles", {**body, "file": upload}, format="multipart", HTTP_ACCEPT_LANGUAGE="ko"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert english_left(error["fields"]["file"][0], LORA_TOOLS) == []
    assert re.search("[가-힣]", error["fields"]["file"][0])

    upload = SimpleUploadedFile("style.safetensors", content, content_type="application/octet-stream")
    page = korean_client(user, "accept-language").post(reverse("brands:styles"), {**body, "file": upload})
    assert page.status_code == 400
    html = page.content.decode()
    assert 'class="errorlist"' in html
    assert english_left(html, [*LORA_TOOLS, "Mine"]) == []


def gif_upload() -> SimpleUploadedFile:
    from io import BytesIO

    data = BytesIO()
    Image.new("RGB", (8, 8)).save(data, "GIF")
    return SimpleUploadedFile("a.gif", data.getvalue(), content_type="image/gif")


API_REFUSALS = {
    "an upload's format": ("/api/v1/uploads", lambda w: {"file": gif_upload()}, "multipart", "file"),
    "an unknown field": ("/api/v1/generate", lambda w: {"prompt": "a dress", "wings": 1}, "json", "wings"),
    "a template of the earlier API": ("/api/v1/generate", lambda w: {"template_id": "nowhere"}, "json", "template_id"),
    "a folder's name twice": ("/api/v1/folders", lambda w: {"name": w.folder.name.upper()}, "json", "name"),
    "a chapter without scenes": ("/api/v1/chapters/{empty}/images", lambda w: {}, "json", "chapter"),
}


@pytest.mark.parametrize("case", API_REFUSALS.values(), ids=API_REFUSALS.keys())
def test_api_refusals_are_korean_on_their_field_and_keep_their_code(case):
    from scenes.models import Chapter

    from .pages import page_world

    url, body, form, field = case
    world = page_world(UserFactory())
    empty = Chapter.objects.create(story=world.story, number=7, title="Empty")
    response = client_for(world.owner).post(
        url.format(empty=empty.pk), body(world), format=form, HTTP_ACCEPT_LANGUAGE="ko"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    (message,) = error["fields"][field]
    assert re.search("[가-힣]", message)
    assert english_left(message, ["GIF", "PNG", "template_id", "nowhere"]) == []


def test_api_errors_stay_english_without_accept_language(user):
    error = client_for(user).post("/api/v1/generate", {"prompt": ""}, format="json").json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"]["prompt"] == ["This field may not be blank."]


# --- layout: Korean text fits ------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_korean_pages_fit_a_phone_and_a_desktop_in_chromium(live_server, tmp_path, user, template, story):
    """Korean labels are shorter or longer than English ones: no page scrolls sideways at 390 or 1280 px.
    Screenshots go to $ZIMAGE_SCREENSHOTS when set."""
    from .test_browser_e2e import CHROMIUM, Browser
    from .test_browser_image_input import logged_in, screenshots

    if CHROMIUM is None:
        pytest.skip("Chromium is not installed")
    user.language = "ko"
    user.save(update_fields=["language"])
    image = stored_image(user)
    GenerationJobFactory(owner=user, template=template, succeeded=True)
    browser = Browser(tmp_path / "chromium-profile")
    try:
        logged_in(browser, live_server, user)
        pages = {
            "dashboard": reverse("generation:dashboard"),
            "generate": reverse("generation:generate"),
            "gallery": reverse("gallery:list"),
            "image": reverse("gallery:image", args=[image.uuid]),
            "story": reverse("scenes:story", args=[story.pk]),
            "profile": reverse("accounts:profile"),
            "templates": reverse("templates_app:list"),
        }
        overflow = {}
        for name, url in pages.items():
            browser.open(live_server.url + url)
            assert browser.evaluate("document.documentElement.lang") == "ko", name
            for width in (390, 1280):
                browser.call(
                    "Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1, mobile=False
                )
                wide = browser.evaluate("document.documentElement.scrollWidth")
                if wide > width:
                    overflow[f"{name}@{width}"] = wide
            screenshots(browser, f"ko-{name}")
        assert overflow == {}
    finally:
        browser.close()


def test_a_batch_page_is_korean(user, set_tier):
    from batches.services import batch_create

    set_tier("free", max_batch_jobs=10, max_queued_jobs=10)
    batch = batch_create(user=user, prompts=["a red coat", "a blue coat"], size_presets=["1:1", "instagram"])
    client = korean_client(user, "profile")
    response = client.get(reverse("batches:batch", args=[batch.pk]))
    assert response.status_code == 200
    data = ["a red coat", "a blue coat", user.email, *[job.model for job in batch.jobs.all()]]
    assert english_left(response.content.decode(), data) == []
