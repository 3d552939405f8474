"""Domain errors of accounts. core.api translates each to one HTTP answer (their status and code)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from core.errors import DomainError


class AccountsError(DomainError):
    """Base class: a request the account's state or plan refuses."""

    code = "account_error"


class InsufficientCredits(AccountsError):
    """402: the available balance does not cover the job's cost."""

    status_code = 402
    code = "insufficient_credits"

    def __init__(self, balance: int, cost: int):
        self.balance = balance
        self.cost = cost
        super().__init__(
            _("This job costs %(cost)s credits; you have %(balance)s available.") % {"cost": cost, "balance": balance}
        )

    def details(self) -> dict[str, Any]:
        return {"balance": self.balance, "cost": self.cost}


class EmailNotVerified(AccountsError):
    """403: the account's e-mail address is not confirmed yet, so it cannot run jobs (not even free ones)."""

    status_code = 403
    code = "email_not_verified"

    def __init__(self) -> None:
        super().__init__(
            _(
                "Confirm your e-mail address first: follow the link we sent you, "
                "or send a new one from your account page."
            )
        )


class TooManyJobs(AccountsError):
    """429: the plan's limit on queued or running jobs is reached; try again after `retry_after` seconds."""

    status_code = 429
    code = "too_many_jobs"

    def __init__(self, retry_after: int, message: str | None = None):
        self.retry_after = retry_after
        super().__init__(message or _("You have too many jobs in progress."))


class LoginLockedOut(AccountsError):
    """429: too many failed logins from this address for this account (`retry_after` None: until staff unlock)."""

    status_code = 429
    code = "locked_out"

    def __init__(self, retry_after: int | None):
        self.retry_after = retry_after
        super().__init__(_("Too many failed login attempts. Try again later."))


class IdempotencyKeyReused(AccountsError):
    """409: the Idempotency-Key was first used with a different request."""

    status_code = 409
    code = "idempotency_key_reused"

    def __init__(self, key: str):
        self.key = key
        super().__init__(_("This Idempotency-Key was already used with a different request."))


class IdempotentRequestInProgress(AccountsError):
    """409: the first request with this Idempotency-Key has not finished yet."""

    status_code = 409
    code = "idempotency_key_in_progress"
    retry_after = 1

    def __init__(self, key: str):
        self.key = key
        super().__init__(_("A request with this Idempotency-Key is still being processed; retry shortly."))
