"""Plan limits are read once per process for a while, and a change saved here is seen at once."""

import pytest

from accounts import selectors
from accounts.models import Tier
from accounts.tiers import DEFAULT_TIERS

pytestmark = pytest.mark.django_db


def test_a_plan_is_read_from_the_database_once_then_from_memory(django_assert_num_queries):
    with django_assert_num_queries(1):
        first = selectors.tier_limits("pro")
    with django_assert_num_queries(0):
        assert selectors.tier_limits("pro") == first


def test_saving_a_plan_in_this_process_is_seen_at_once(set_tier):
    assert selectors.tier_limits("free").max_side == DEFAULT_TIERS["free"].max_side
    set_tier("free", max_side=512)
    assert selectors.tier_limits("free").max_side == 512
    Tier.objects.get(name="free").delete()
    assert selectors.tier_limits("free") == DEFAULT_TIERS["free"]


def test_a_plan_is_read_again_once_its_time_is_up(monkeypatch, django_assert_num_queries):
    monkeypatch.setattr(selectors, "TIER_CACHE_SECONDS", 0.0)
    selectors.tier_limits("enterprise")  # kept with no time left
    with django_assert_num_queries(1):
        selectors.tier_limits("enterprise")
