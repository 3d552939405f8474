"""Add Korean translations to locale/ko/LC_MESSAGES/django.po and recompile: `add_translation.py MSGID MSGSTR ...`.

Pairs of arguments; an existing msgid gets the new msgstr. Pure Python (polib), like scripts/compile_messages.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polib

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compile_messages import LOCALE_DIR, compile_all


def add(pairs: list[tuple[str, str]], language: str = "ko") -> int:
    po_path = LOCALE_DIR / language / "LC_MESSAGES" / "django.po"
    catalog = polib.pofile(str(po_path), wrapwidth=0)
    added = 0
    for msgid, msgstr in pairs:
        entry = catalog.find(msgid)
        if entry is None:
            catalog.append(polib.POEntry(msgid=msgid, msgstr=msgstr))
            added += 1
        else:
            entry.msgstr = msgstr
            if "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
    catalog.save(str(po_path))
    compile_all()
    return added


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if not arguments or len(arguments) % 2:
        sys.exit("usage: add_translation.py MSGID MSGSTR [MSGID MSGSTR ...]")
    count = add(list(zip(arguments[::2], arguments[1::2], strict=True)))
    print(f"{count} new entr{'y' if count == 1 else 'ies'}", file=sys.stderr)
