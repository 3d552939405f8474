import pytest

from accounts.models import Tier
from accounts.tiers import DEFAULT_TIERS


@pytest.fixture
def set_tier():
    """Change a plan's limits for this test: `set_tier("free", max_queued_jobs=1)`."""

    def change(name: str, **limits) -> Tier:
        defaults = DEFAULT_TIERS[name]
        values = {field: getattr(defaults, field) for field in limits_fields()} | limits
        tier, _ = Tier.objects.update_or_create(name=name, defaults=values)
        return tier

    return change


def limits_fields():
    return [field.name for field in Tier._meta.fields if field.name != "name"]
