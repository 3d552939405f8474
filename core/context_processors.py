"""What every page needs to know about the generation back end: whether images are real or from the tiny pipeline."""

from __future__ import annotations

import logging

import redis
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from generation.worker import online_workers

logger = logging.getLogger(__name__)

NOTICE_CACHE_KEY = "web:diffusion-backends"
NOTICE_CACHE_SECONDS = 15
TINY_BACKEND = "tiny"
TINY_NOTICE = _(
    "images come from the tiny random-weight test pipeline, not the real Z-Image model: "
    "expect structured noise, not your prompt."
)


def worker_backends() -> list[str]:
    """The diffusion backends of the workers heart-beating now; cached briefly so pages do not scan Redis."""
    backends = cache.get(NOTICE_CACHE_KEY)
    if backends is None:
        backends = sorted({str(worker.get("backend")) for worker in online_workers()})
        cache.set(NOTICE_CACHE_KEY, backends, NOTICE_CACHE_SECONDS)
    return backends


def diffusion_notice(request: HttpRequest) -> dict[str, object]:
    try:
        backends = worker_backends()
    except (redis.RedisError, OSError):
        logger.warning("could not read worker heartbeats for the backend notice", exc_info=True)
        return {}
    return {"diffusion_notice": TINY_NOTICE} if TINY_BACKEND in backends else {}
