"""Operations: Prometheus metrics, queue and worker monitoring, the admin statistics page."""
