"""Live job events over WebSockets: a snapshot from the database on connect, then every event."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .events import job_group, user_group
from .models import GenerationJob


class JobEventsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.job_id = self.scope["url_route"]["kwargs"].get("job_id")
        if self.job_id is not None:
            if not await self._owns(user, self.job_id):
                await self.close(code=4404)
                return
            self.group = job_group(self.job_id)
        else:
            self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def job_event(self, message: dict) -> None:
        await self.send_json(message["event"])

    @database_sync_to_async
    def _owns(self, user, job_id: int) -> bool:
        return GenerationJob.objects.filter(pk=job_id, owner=user).exists()
