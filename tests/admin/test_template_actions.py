"""Staff actions on templates: activate or deactivate a version, duplicate one as a new version."""

import pytest

from templates_app.models import Template

from ..factories import TemplateFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/templates_app/template/"


def run_action(client, action, *templates):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [t.pk for t in templates]})


def active_versions(slug: str) -> list[int]:
    return list(Template.objects.filter(slug=slug, is_active=True).values_list("version", flat=True))


def test_deactivating_hides_the_template_and_twice_is_the_same(staff_client):
    template = TemplateFactory(slug="poster")
    for _ in range(2):
        assert run_action(staff_client, "deactivate", template).status_code == 302
    assert active_versions("poster") == []
    assert not Template.objects.listed().filter(slug="poster").exists()


def test_activating_an_old_version_retires_the_active_one(staff_client):
    first = TemplateFactory(slug="poster", version=1, is_active=False)
    TemplateFactory(slug="poster", version=2, is_active=True)
    for _ in range(2):
        run_action(staff_client, "activate", first)
    assert active_versions("poster") == [1]


def test_duplicating_adds_the_next_version_as_the_active_one(staff_client):
    template = TemplateFactory(slug="poster", credit_cost=3)
    assert run_action(staff_client, "duplicate_as_new_version", template).status_code == 302
    copy = Template.objects.get(slug="poster", version=2)
    assert (copy.is_active, copy.credit_cost, copy.config) == (True, 3, template.config)
    assert active_versions("poster") == [2]
