"""Add Korean translations to locale/ko/LC_MESSAGES/django.po and recompile: `add_translation.py MSGID MSGSTR ...`.

Pairs of arguments; an existing msgid gets the new msgstr. `--context CTX` first puts every pair in that message
context (pgettext); without it only entries without a context are matched, so a contextual entry of the same msgid
is never overwritten. Pure Python (polib), like scripts/compile_messages.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polib

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compile_messages import LOCALE_DIR, compile_all


def add(pairs: list[tuple[str, str]], language: str = "ko", context: str | None = None) -> int:
    po_path = LOCALE_DIR / language / "LC_MESSAGES" / "django.po"
    catalog = polib.pofile(str(po_path), wrapwidth=0)
    added = 0
    for msgid, msgstr in pairs:
        entry = catalog.find(msgid, msgctxt=context)
        if entry is None:
            catalog.append(polib.POEntry(msgid=msgid, msgstr=msgstr, msgctxt=context))
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
    context = None
    if arguments[:1] == ["--context"] and len(arguments) > 1:
        context, arguments = arguments[1], arguments[2:]
    if not arguments or len(arguments) % 2:
        sys.exit("usage: add_translation.py [--context CTX] MSGID MSGSTR [MSGID MSGSTR ...]")
    count = add(list(zip(arguments[::2], arguments[1::2], strict=True)), context=context)
    print(f"{count} new entr{'y' if count == 1 else 'ies'}", file=sys.stderr)
