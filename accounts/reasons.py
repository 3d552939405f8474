"""The credit ledger's reasons. A row's `reason` is the record, kept in English as staff, logs and the API read
it; the code-written ones come from the functions here, and describe() shows any of them in the reader's language
(a reason staff typed by hand is their own text and is shown as written). No schema change: rows written before
this module read the same."""

from __future__ import annotations

import re

from django.utils.translation import gettext, ngettext

from .models import TierName

_RESERVED = re.compile(r"Job (?P<job>\d+): (?P<count>\d+) image\(s\) reserved")
_SETTLED = re.compile(
    r"Job (?P<job>\d+) (?P<status>succeeded|failed|canceled): (?P<done>\d+) of (?P<count>\d+) image\(s\) produced"
)
_MONTHLY = re.compile(r"Monthly (?P<tier>\w+) credits for (?P<month>\d{4}-\d{2})")


def job_reserved(*, job_id: int, count: int) -> str:
    return f"Job {job_id}: {count} image(s) reserved"


def job_settled(*, job_id: int, status: str, produced: int, count: int) -> str:
    return f"Job {job_id} {status}: {produced} of {count} image(s) produced"


def monthly_grant(*, tier: str, month: str) -> str:
    """`tier` is the plan's value (free, pro, enterprise), which the reason keeps capitalised."""
    return f"Monthly {tier.capitalize()} credits for {month}"


def describe(reason: str) -> str:
    """The reason in the active language."""
    if match := _RESERVED.fullmatch(reason):
        count = int(match["count"])
        return ngettext("%(count)s image reserved", "%(count)s images reserved", count) % {"count": count}
    if match := _SETTLED.fullmatch(reason):
        return _settled(match["status"], done=int(match["done"]), count=int(match["count"]))
    if match := _MONTHLY.fullmatch(reason):
        tier = match["tier"].lower()
        plan = TierName(tier).label if tier in TierName.values else match["tier"]
        return gettext("Monthly %(plan)s plan credits for %(month)s") % {"plan": plan, "month": match["month"]}
    return reason


def _settled(status: str, *, done: int, count: int) -> str:
    if status == "succeeded":
        text = ngettext(
            "Succeeded: %(done)s of %(count)s image made", "Succeeded: %(done)s of %(count)s images made", count
        )
    elif status == "failed":
        text = ngettext("Failed: %(done)s of %(count)s image made", "Failed: %(done)s of %(count)s images made", count)
    else:
        text = ngettext(
            "Canceled: %(done)s of %(count)s image made", "Canceled: %(done)s of %(count)s images made", count
        )
    return text % {"done": done, "count": count}
