"""Who sees which styles and kits: the public library and one's own, never another user's."""

from __future__ import annotations

import pytest

from brands import selectors
from brands.models import BrandKit, Style

from ..factories import BrandKitFactory, StyleFactory

pytestmark = pytest.mark.django_db


def test_a_user_sees_the_public_library_and_their_own_styles(user, other_user):
    public, mine = StyleFactory(), StyleFactory(owner=user)
    StyleFactory(owner=other_user)
    assert set(selectors.styles_visible_to(user=user)) == {public, mine}
    assert set(selectors.styles_visible_to(user=None)) == {public}


def test_another_users_private_style_reads_as_missing(user, other_user):
    theirs = StyleFactory(owner=other_user)
    with pytest.raises(Style.DoesNotExist):
        selectors.style_get(user=user, style_id=theirs.pk)
    assert selectors.style_get(user=other_user, style_id=theirs.pk) == theirs


def test_kits_are_their_owners_only(user, other_user):
    mine, theirs = BrandKitFactory(owner=user), BrandKitFactory(owner=other_user)
    assert list(selectors.brand_kits_of(user=user)) == [mine]
    with pytest.raises(BrandKit.DoesNotExist):
        selectors.brand_kit_get(user=user, kit_id=theirs.pk)
