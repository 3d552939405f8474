"""Celery entry points for webhooks, on the `default` queue: thin wrappers over services."""

from celery import shared_task

from . import services

# An event waits for its job's earlier events' first attempts this many times (0.5 s apart), then goes anyway.
MAX_ORDER_WAITS = 20


@shared_task(bind=True, name="webhooks.deliver", acks_late=True, max_retries=MAX_ORDER_WAITS, ignore_result=True)
def deliver_webhook_task(self, delivery_id: int) -> str:
    try:
        return services.attempt_delivery(delivery_id=delivery_id, force=self.request.retries >= MAX_ORDER_WAITS)
    except services.WaitForEarlier:
        # `started` goes before `completed`: look again once the earlier event has been tried.
        raise self.retry(countdown=0.5) from None


@shared_task(name="webhooks.send_due_deliveries", ignore_result=True)
def send_due_deliveries_task() -> int:
    return services.send_due_deliveries()
