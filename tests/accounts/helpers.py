"""Ledger assertions: the credit ledger's rows against the balances cached on the user."""

from django.db.models import Sum

from accounts.models import CreditEntry


def ledger_totals(user) -> tuple[int, int]:
    """(sum of amounts, sum of reserved changes) straight from the ledger rows."""
    totals = CreditEntry.objects.filter(user=user).aggregate(available=Sum("amount"), reserved=Sum("reserved_change"))
    return totals["available"] or 0, totals["reserved"] or 0


def assert_ledger_matches_cache(user) -> None:
    user.refresh_from_db()
    assert ledger_totals(user) == (user.credit_balance, user.credits_reserved)


def entries(job) -> list[tuple[str, int, int]]:
    return sorted(CreditEntry.objects.filter(job=job).values_list("kind", "amount", "reserved_change"))
