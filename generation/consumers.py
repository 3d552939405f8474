"""Live job events over WebSockets: a snapshot from the database on connect, then every event.

`/ws/jobs/` follows all of the user's jobs, `/ws/jobs/<id>/` one of them. Events are numbered per job
(`seq`); the consumer forwards each job's events in increasing order only, starting after the number
its snapshot already reflects, so a client never sees a stale or repeated event. `?previews=0` asks for
progress events without their preview image.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import translation
from django.utils.translation import gettext as _

from core.socket_language import scope_language

from . import selectors, services
from .events import job_group, user_group
from .ops import monitoring

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


class JobEventsConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None
    counted = False  # whether this socket is in the open-connections gauge (generation.ops.monitoring)

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._refuse(CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        self.job_id: int | None = self.scope["url_route"]["kwargs"].get("job_id")
        options = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
        self.previews = options.get("previews", ["1"])[0] not in ("0", "false", "no")
        self.last_seq: dict[int, int] = {}
        if self.job_id is not None and not await self._job_exists(self.job_id):
            await self._refuse(CLOSE_NOT_FOUND)
            return
        # Join before reading the snapshot: an event sent in between is queued, then dropped if stale.
        self.group = user_group(user.pk) if self.job_id is None else job_group(self.job_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.counted = True  # counted before the client hears it is accepted: a scrape after that sees it
        await monitoring.websocket_opened(list_of=self._list_owner())
        await self.accept()
        jobs = await self._snapshot()
        self.last_seq = {job["job"]: job["seq"] for job in jobs}
        await self.send_json({"type": "snapshot", "jobs": jobs})
        logger.info("websocket opened", extra={"user_id": user.pk, "job_id": self.job_id})

    async def _refuse(self, code: int) -> None:
        """Accept, then close with `code`: a close before accept reaches the client as a bare HTTP 403, which
        cannot tell signing in again (4401) from a job that is not there (4404)."""
        await self.accept()
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        if self.counted:
            logger.info("websocket closed", extra={"user_id": self.user.pk, "close_code": code})
            self.counted = False
            await monitoring.websocket_closed(list_of=self._list_owner())
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    def _list_owner(self) -> int | None:
        return self.user.pk if self.job_id is None else None

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its `close_old_connections` before every message: that call is a hop to
        the one thread that all of daphne's sockets share for database work, so one socket's slow query held up
        every other socket's live events. Each database call here goes through `database_sync_to_async`, which
        closes old connections around itself."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def job_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        job_id, seq = event["job"], event.get("seq", 0)
        if seq <= self.last_seq.get(job_id, 0):
            return
        self.last_seq[job_id] = seq
        if not self.previews and "preview" in event:
            event = {key: value for key, value in event.items() if key != "preview"}
        await self.send_json(event)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """The errors' codes are stable; their messages are in the connection's language (core.socket_language)."""
        with translation.override(scope_language(self.scope)):
            if not isinstance(content, dict) or content.get("type") != "job.cancel":
                await self.send_json({"type": "error", "code": "invalid", "message": _("Unknown message type.")})
                return
            job_id = content.get("job")
            if isinstance(job_id, bool) or not isinstance(job_id, int):
                await self.send_json({"type": "error", "code": "invalid", "message": _("`job` must be a job id.")})
                return
        if not await self._cancel(job_id):
            await self.send_json({"type": "error", "code": "not_found", "job": job_id})
            return
        logger.info("job canceled over the websocket", extra={"user_id": self.user.pk, "job_id": job_id})

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        try:
            return await super().decode_json(text_data)
        except ValueError:
            return None

    @database_sync_to_async
    def _job_exists(self, job_id: int) -> bool:
        return selectors.jobs_for(self.user).filter(pk=job_id).exists()

    @database_sync_to_async
    def _snapshot(self) -> list[dict[str, Any]]:
        return selectors.job_snapshot(self.user, job_id=self.job_id)

    @database_sync_to_async
    def _cancel(self, job_id: int) -> bool:
        """Cancel one of the user's own jobs; False when they have no such job."""
        job = selectors.jobs_for(self.user).filter(pk=job_id).first()
        if job is None:
            return False
        services.cancel_job(job=job)
        return True
