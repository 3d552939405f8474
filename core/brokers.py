"""Which broker this installation runs on: RabbitMQ in production, the embedded Redis by default."""

AMQP_SCHEMES = ("amqp://", "amqps://", "pyamqp://")


def uses_rabbitmq(broker_url: str | None) -> bool:
    """Whether the broker is RabbitMQ (real acknowledgements, quorum queues) rather than the embedded Redis."""
    return str(broker_url or "").startswith(AMQP_SCHEMES)
