"""The admin's customisations in Korean (#22): every action, column, fieldset, inline, message and intermediate
page our admin.py files add reads in Korean for a Korean member of staff; the statistics page writes its dates the
Korean way; a template's config errors on the admin form are Korean; what Django takes from the models (model and
field names, help texts: tests/test_model_names.py) heads the columns and labels the forms in Korean."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.models import User
from generation.engine.workflow import CONFIG_KEYS
from generation.models import GenerationJob, JobStatus
from templates_app.models import OVERRIDABLE_PARAMETERS, Template

from ..factories import GenerationJobFactory, TemplateFactory, UserFactory
from ..test_model_names import SAME_IN_KOREAN
from .pages import page_world
from .test_i18n import english_left, report

pytestmark = pytest.mark.django_db

OURS = ("accounts", "batches", "brands", "gallery", "generation", "scenes", "templates_app", "webhooks")
# Units and names the statistics page writes in Latin letters in Korean too: seconds, percentiles, queue names.
STATS_WORDS = ["s", "p50", "p95", "default", *(f"gen.{path}" for path in ("fashion", "beauty", "eats", "cinema"))]
STATS_WORDS += ["gen.cartoon", "UTC"]
# Field names Korean writes in Latin letters too: the automatic primary key's and tests/test_model_names' exceptions.
LATIN_NAMES = {"ID", *SAME_IN_KOREAN}


def model_words() -> list[str]:
    """What the admin's frame takes from the models and apps (the sidebar, breadcrumbs, column heads) as a Korean
    reader sees it: only names with no Korean entry (other packages' models, config labels) stay English."""
    from django.apps import apps

    words = {"Django"}
    with translation.override("ko"):
        for config in apps.get_app_configs():
            words |= {str(config.verbose_name), config.label}
            for model in config.get_models():
                names = [str(model._meta.verbose_name), str(model._meta.verbose_name_plural)]
                names += [str(getattr(f, "verbose_name", f.name)) for f in model._meta.get_fields()]
                words |= {variant for name in names for variant in (name, name[:1].upper() + name[1:])}
    return sorted(words, key=len, reverse=True)


def field_names(model: type) -> set[str]:
    return {str(getattr(f, "verbose_name", f.name)).lower() for f in model._meta.get_fields()}


def our_admins() -> list[tuple[type, admin.ModelAdmin]]:
    registry = admin.site._registry.items()
    return [(model, model_admin) for model, model_admin in registry if model._meta.app_label in OURS]


def declared_words(model_admin: admin.ModelAdmin) -> list:
    """The strings an admin.py declares: its actions, computed columns, fieldsets and inline titles."""
    words = []
    for name in model_admin.actions or ():
        words.append(getattr(model_admin, name).short_description)
    for name in [*model_admin.list_display, *model_admin.readonly_fields]:
        if description := getattr(getattr(model_admin, str(name), None), "short_description", None):
            words.append(description)
    words += [title for title, _options in model_admin.fieldsets or () if title]
    for inline in model_admin.inlines:
        if "verbose_name_plural" in vars(inline):
            words.append(inline.verbose_name_plural)
        for name in inline.readonly_fields:
            if description := getattr(getattr(inline, name, None), "short_description", None):
                words.append(description)
    return words


@pytest.fixture
def staff() -> Client:
    member = UserFactory(is_staff=True, is_superuser=True, language="ko")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")  # the member's saved language wins over the browser's
    client.force_login(member)
    client.frame_words = [member.email, *model_words()]  # type: ignore[attr-defined]
    return client


@pytest.fixture
def world():
    return page_world(UserFactory())


def messages_in(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def run_action(client: Client, model: type, action: str, objects, **extra) -> list[str]:
    info = model._meta.app_label, model._meta.model_name
    response = client.post(
        reverse(f"admin:{info[0]}_{info[1]}_changelist"),
        {"action": action, ACTION_CHECKBOX_NAME: [str(obj.pk) for obj in objects], **extra},
        follow=True,
    )
    assert response.status_code == 200, action
    return messages_in(response)


def test_every_admins_own_words_are_korean_on_its_pages(staff, world):
    """Each declared word has a Korean entry, and the changelist and change page show it in Korean, not English."""
    untranslated, shown_in_english = [], {}
    for model, model_admin in our_admins():
        words = declared_words(model_admin)
        with translation.override("ko"):
            untranslated += [str(word) for word in words if not re.search("[가-힣]", str(word))]
        info = model._meta.app_label, model._meta.model_name
        pages = [reverse(f"admin:{info[0]}_{info[1]}_changelist")]
        if (obj := model.objects.first()) is not None:
            pages.append(reverse(f"admin:{info[0]}_{info[1]}_change", args=[obj.pk]))
        with translation.override("en"):  # a word that is also a field's name may be the field's column head
            english = {str(word) for word in words if str(word).lower() not in field_names(model)}
        for url in pages:
            html = staff.get(url).content.decode()
            assert '<html lang="ko"' in html, url
            if found := sorted(word for word in english if f">{word}<" in html or f'">{word}</option>' in html):
                shown_in_english[url] = found
    assert untranslated == []
    assert shown_in_english == {}


def test_the_actions_report_in_korean(staff, world):
    template = TemplateFactory(slug="lookbook")
    queued = GenerationJobFactory(owner=world.owner)
    reports = [
        *run_action(staff, GenerationJob, "cancel_jobs", [queued]),
        *run_action(staff, GenerationJob, "retry_failed_jobs", [world.failed_job]),
        *run_action(staff, GenerationJob, "retry_failed_jobs", [world.job]),  # none failed: says so
        *run_action(staff, GenerationJob, "redispatch_queued_jobs", [world.job]),
        *run_action(staff, User, "suspend_users", [world.owner]),
        *run_action(staff, User, "reactivate_users", [world.owner]),
        *run_action(staff, Template, "deactivate", [template]),
        *run_action(staff, Template, "activate", [template]),
        *run_action(staff, Template, "duplicate_as_new_version", [template]),
    ]
    assert len(reports) >= 9
    leftovers = {text: found for text in reports if (found := english_left(f"<p>{text}</p>", [str(template)]))}
    assert not leftovers, report(leftovers)


def test_the_credit_grant_form_and_its_report_are_korean(staff, world):
    users = [world.owner]
    form = staff.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "grant_credits", ACTION_CHECKBOX_NAME: [str(u.pk) for u in users]},
    )
    assert form.status_code == 200
    assert english_left(form.content.decode(), [world.owner.email, *staff.frame_words]) == []
    token = re.search(r'name="token" value="([^"]+)"', form.content.decode())[1]  # type: ignore[index]
    granted = run_action(
        staff, User, "grant_credits", users, apply="1", token=token, amount="5", kind="grant", reason="launch week"
    )
    assert granted and all(re.search("[가-힣]", text) for text in granted), granted


def test_the_statistics_page_is_korean_with_korean_dates(staff, world):
    page = staff.get(reverse("admin:generation_stats")).content.decode()
    assert english_left(page, [*staff.frame_words, *STATS_WORDS]) == []
    assert re.search(r"\d{4}년 \d{1,2}월 \d{1,2}일", page)  # the period's bounds, as Korean writes a date

    today = dt.date.today()
    custom = staff.get(
        reverse("admin:generation_stats"),
        {"period": "custom", "start": f"{today - dt.timedelta(days=2)}", "end": f"{today}"},
    ).content.decode()
    assert f"{today.year}년 {today.month}월 {today.day}일" in custom
    assert english_left(custom, [*staff.frame_words, *STATS_WORDS]) == []


def test_a_templates_config_errors_are_korean_on_the_admin_form(staff):
    body = {
        "name": "Broken",
        "slug": "broken",
        "production_path": "fashion",
        "description": "",
        "sample_prompt": "",
        "credit_cost": "1",
        "max_images": "4",
        "config": '{"steps": 999, "nowhere": 1, "pipeline": "no"}',
        "overridable": '["steps", "wings"]',
        "bounds": '{"steps": [1, 2]}',
    }
    response = staff.post(reverse("admin:templates_app_template_add"), body)
    assert response.status_code == 200
    html = response.content.decode()
    errors = re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', html, re.S)
    assert errors, "the form shows no error"
    # The config's keys and the parameter names are the config's own (JSON), not words to translate.
    keys = ["nowhere", "wings", *CONFIG_KEYS, *OVERRIDABLE_PARAMETERS]
    leftovers = [found for error in errors if (found := english_left(error, keys))]
    assert leftovers == []
    assert not Template.objects.filter(slug="broken").exists()


def test_the_job_statuses_on_the_admin_filters_are_korean(staff, world):
    html = staff.get(reverse("admin:generation_generationjob_changelist")).content.decode()
    with translation.override("ko"):
        assert all(str(status.label) in html for status in JobStatus)


def test_the_admin_names_our_apps_in_korean(staff):
    html = staff.get(reverse("admin:index")).content.decode()
    for heading in ("계정", "갤러리", "이미지 생성", "스토리", "템플릿", "웹훅", "캠페인 배치", "브랜드 스타일"):
        assert f">{heading}<" in html, heading


def test_the_admin_is_headed_as_zimages_in_korean(staff):
    html = staff.get(reverse("admin:index")).content.decode()
    assert "<title>운영 | zimage 관리</title>" in html
    assert ">zimage 관리</a>" in html and "Django" not in html


def admin_texts(html: str) -> list[str]:
    """The changelist's column heads and the change form's labels and help texts: where the admin names fields."""
    found = re.findall(r'<th scope="col"[^>]*>.*?<div class="text">(.*?)</div>', html, re.S)
    found += re.findall(r"<label\b[^>]*>(.*?)</label>", html, re.S)
    found += re.findall(r'<div class="help"[^>]*>(.*?)</div>\s*</div>', html, re.S)
    texts = (re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip() for text in found)
    return [text for text in texts if text]


def test_the_changelists_and_change_forms_name_our_fields_in_korean(staff, world):
    english = {}
    for model, _model_admin in our_admins():
        info = model._meta.app_label, model._meta.model_name
        pages = [reverse(f"admin:{info[0]}_{info[1]}_changelist")]
        if (obj := model.objects.first()) is not None:
            pages.append(reverse(f"admin:{info[0]}_{info[1]}_change", args=[obj.pk]))
        for url in pages:
            html = staff.get(url).content.decode()
            texts = [text.removesuffix(":") for text in admin_texts(html)]
            if found := [text for text in texts if not re.search("[가-힣]", text) and text not in LATIN_NAMES]:
                english[url] = found
    assert english == {}
