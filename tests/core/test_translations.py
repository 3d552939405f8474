"""The Korean catalog is complete and its compiled .mo is the one in the repository (no gettext needed to run)."""

from pathlib import Path

import polib
import pytest
from django.conf import settings

CATALOGS = sorted(Path(settings.LOCALE_PATHS[0]).glob("*/LC_MESSAGES/*.po"))


def test_there_is_a_korean_catalog():
    assert Path(settings.LOCALE_PATHS[0], "ko", "LC_MESSAGES", "django.po") in CATALOGS


@pytest.mark.parametrize("po_path", CATALOGS, ids=lambda path: str(path.parent.parent.name))
def test_every_entry_is_translated_and_none_is_fuzzy(po_path):
    catalog = polib.pofile(str(po_path))
    assert [entry.msgid for entry in catalog.untranslated_entries()] == []
    assert [entry.msgid for entry in catalog.fuzzy_entries()] == []


@pytest.mark.parametrize("po_path", CATALOGS, ids=lambda path: str(path.parent.parent.name))
def test_the_compiled_catalog_matches_its_source(po_path):
    """`make messages` was run after the last edit of the .po file."""
    source = {(entry.msgctxt, entry.msgid): entry.msgstr for entry in polib.pofile(str(po_path)).translated_entries()}
    compiled = {(entry.msgctxt, entry.msgid): entry.msgstr for entry in polib.mofile(str(po_path.with_suffix(".mo")))}
    compiled.pop((None, ""), None)  # the header
    assert compiled == source
