"""Celery beat entry points for accounts: thin wrappers over services, safe to run any number of times."""

from celery import shared_task

from . import idempotency, services, tokens


@shared_task(name="accounts.grant_monthly_credits", ignore_result=True)
def grant_monthly_credits() -> int:
    return services.grant_monthly_credits()


@shared_task(name="accounts.purge_idempotency_keys", ignore_result=True)
def purge_idempotency_keys() -> int:
    return idempotency.purge_expired()


@shared_task(name="accounts.flush_expired_tokens", ignore_result=True)
def flush_expired_tokens() -> int:
    """Every sign-in and refresh records a refresh token (accounts.tokens); expired ones are dropped."""
    return tokens.flush_expired()
