"""Celery beat entry points for accounts: thin wrappers over services, safe to run any number of times."""

from celery import shared_task

from . import idempotency, services


@shared_task(name="accounts.grant_monthly_credits", ignore_result=True)
def grant_monthly_credits() -> int:
    return services.grant_monthly_credits()


@shared_task(name="accounts.purge_idempotency_keys", ignore_result=True)
def purge_idempotency_keys() -> int:
    return idempotency.purge_expired()
