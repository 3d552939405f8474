"""Job events to the Channels layer, published from a background thread so callers never block.

Every event carries the job id, its status, a per-job sequence number `seq` and a per-account number
`account_seq`. Both come from one Redis script that also appends the event to the job's and the account's
short histories (and, with channels_redis as configured here, puts it in the sockets' groups in the same call),
so every process's events of a job share one order, and the Server-Sent Events streams (generation.sse) can give
a reconnecting client exactly the events it missed. A dead channel layer only costs log lines: publishing never
raises into a job.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import queue
import threading
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from django.conf import settings

from webhooks.dispatch import notify_job_event

if TYPE_CHECKING:
    from gallery.models import GeneratedImage

logger = logging.getLogger(__name__)

EVENT_TYPES = (
    "job.queued",
    "job.started",
    "job.progress",
    "job.image",
    "job.succeeded",
    "job.failed",
    "job.canceled",
)
FINAL_EVENT_TYPES = frozenset({"job.succeeded", "job.failed", "job.canceled"})
MAX_PENDING_EVENTS = 10_000
SEQUENCE_TTL = 7 * 24 * 3600
# An account's number outlives any one job's: a client's Last-Event-ID from last week must not meet a restarted count.
ACCOUNT_SEQUENCE_TTL = 30 * 24 * 3600
# Resume history: a 50-step job of 4 images publishes about 60 events (progress is rate-limited), so a job's last
# 200 cover it whole; an account's last 1000 cover a reconnect after a busy minute. Previews are left out of it.
JOB_HISTORY_LENGTH = 200
ACCOUNT_HISTORY_LENGTH = 1000
HISTORY_TTL = 24 * 3600
# Queued jobs told their new place when a job on their path starts; those further back hear it on (re)connect.
QUEUE_REFRESH_LIMIT = 20
# Redis round trips at once for different jobs; a job's own events always wait for its previous one.
MAX_EVENTS_IN_FLIGHT = 32


def user_group(user_id: int) -> str:
    return f"jobs.user.{user_id}"


def job_group(job_id: int) -> str:
    return f"jobs.job.{job_id}"


def sequence_key(job_id: int) -> str:
    return f"zimage:job:{job_id}:seq"


def history_key(job_id: int) -> str:
    return f"zimage:job:{job_id}:events"


def last_type_key(job_id: int) -> str:
    return f"zimage:job:{job_id}:last"


def account_sequence_key(user_id: int) -> str:
    return f"zimage:user:{user_id}:seq"


def account_history_key(user_id: int) -> str:
    return f"zimage:user:{user_id}:events"


# Numbers one event and records it, atomically: whoever reads a counter then finds every event up to it in the
# histories. A queue refresh (ARGV[3] = "1") is refused once the job's last event is past queued, so a late
# refresh can never be numbered after the job's start. Entries are "<seq> <account_seq> <json without numbers>".
_NUMBERING = """
if ARGV[3] == '1' then
  local last = redis.call('GET', KEYS[3])
  if last and last ~= 'job.queued' then return false end
end
seq = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
account = redis.call('INCR', KEYS[4])
redis.call('EXPIRE', KEYS[4], ARGV[5])
redis.call('SET', KEYS[3], ARGV[1], 'EX', ARGV[4])
local entry = seq .. ' ' .. account .. ' ' .. ARGV[2]
redis.call('RPUSH', KEYS[2], entry)
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[7]), -1)
redis.call('EXPIRE', KEYS[2], ARGV[6])
redis.call('RPUSH', KEYS[5], entry)
redis.call('LTRIM', KEYS[5], -tonumber(ARGV[8]), -1)
redis.call('EXPIRE', KEYS[5], ARGV[6])
"""
NUMBER_EVENT = "local seq, account\n" + _NUMBERING + "return {seq, account}\n"

# Numbers the event (ARGV[9] = "1"; else ARGV[10], ARGV[11] are its numbers) and sends it to the channel layer's
# groups KEYS[6..], as channels_redis's group_send does it, in the same call: one Redis round trip an event where
# the numbering and the two group sends took five (benchmarks/event_send.py, 2026-12-03: 0.89 -> 0.26 ms an event
# in order, 0.68 -> 0.18 ms of the publishing process's CPU). Per group:
# members older than ARGV[14] dropped; per member's channel key (ARGV[19] + the name up to its "!"): messages
# older than ARGV[15] dropped, then, below ARGV[18] messages, the message added at score ARGV[16] with its expiry
# ARGV[17]. The message is channels_redis's msgpack: a random prefix (ARGV[20..], one per group), the message's
# head (ARGV[12]), the event's head and fields (ARGV[13]), its numbers, and "__asgi_channel__": the key's members.
SEND_EVENT = (
    "local seq, account\nif ARGV[9] == '1' then\n"
    + _NUMBERING
    + """else
  seq, account = tonumber(ARGV[10]), tonumber(ARGV[11])
end
local event = ARGV[13] .. cmsgpack.pack('seq') .. cmsgpack.pack(seq)
  .. cmsgpack.pack('account_seq') .. cmsgpack.pack(account) .. cmsgpack.pack('__asgi_channel__')
for g = 6, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[g], 0, ARGV[14])
  local members, order = {}, {}
  for _, name in ipairs(redis.call('ZRANGE', KEYS[g], 0, -1)) do
    local bang = string.find(name, '!', 1, true)
    local key = ARGV[19] .. (bang and string.sub(name, 1, bang) or name)
    if not members[key] then
      members[key] = {}
      order[#order + 1] = key
    end
    table.insert(members[key], name)
  end
  for _, key in ipairs(order) do
    redis.call('ZREMRANGEBYSCORE', key, 0, ARGV[15])
    if redis.call('ZCOUNT', key, '-inf', '+inf') < tonumber(ARGV[18]) then
      redis.call('ZADD', key, ARGV[16], ARGV[14 + g] .. ARGV[12] .. event .. cmsgpack.pack(members[key]))
      redis.call('EXPIRE', key, ARGV[17])
    end
  end
end
return {seq, account}
"""
)


def _number_arguments(event: dict[str, Any], refresh: bool) -> tuple[list[str], list[Any]]:
    """The script's keys and arguments for `event` (its internal flags already removed)."""
    job_id, owner_id = event["job"], event["owner"]
    recorded = {key: value for key, value in event.items() if key != "preview"}
    keys = [
        sequence_key(job_id),
        history_key(job_id),
        last_type_key(job_id),
        account_sequence_key(owner_id),
        account_history_key(owner_id),
    ]
    args = [
        event["type"],
        json.dumps(recorded, separators=(",", ":")),
        "1" if refresh else "0",
        SEQUENCE_TTL,
        ACCOUNT_SEQUENCE_TTL,
        HISTORY_TTL,
        JOB_HISTORY_LENGTH,
        ACCOUNT_HISTORY_LENGTH,
    ]
    return keys, args


class Numbered(NamedTuple):
    seq: int
    account_seq: int
    event: dict[str, Any]


def _parse_entry(entry: bytes | str) -> Numbered:
    text = entry.decode() if isinstance(entry, bytes) else entry
    seq, account_seq, body = text.split(" ", 2)
    event = json.loads(body)
    event["seq"], event["account_seq"] = int(seq), int(account_seq)
    return Numbered(int(seq), int(account_seq), event)


def job_history(job_id: int) -> tuple[int, list[Numbered]]:
    """The job's last event number and its recorded events (oldest first), read at one instant."""
    from core.redis_clients import shared_redis

    pipe = shared_redis().pipeline(transaction=True)
    pipe.get(sequence_key(job_id))
    pipe.lrange(history_key(job_id), 0, -1)
    counter, entries = pipe.execute()
    return int(counter or 0), sorted((_parse_entry(entry) for entry in entries), key=lambda item: item.seq)


def account_history(user_id: int) -> tuple[int, list[Numbered]]:
    """The account's last event number and its recorded events (oldest first), read at one instant."""
    from core.redis_clients import shared_redis

    pipe = shared_redis().pipeline(transaction=True)
    pipe.get(account_sequence_key(user_id))
    pipe.lrange(account_history_key(user_id), 0, -1)
    counter, entries = pipe.execute()
    return int(counter or 0), sorted((_parse_entry(entry) for entry in entries), key=lambda item: item.account_seq)


def account_sequence(user_id: int) -> int:
    """The number of the account's last event (0 when none yet)."""
    from core.redis_clients import shared_redis

    return int(shared_redis().get(account_sequence_key(user_id)) or 0)


def _number_now(event: dict[str, Any]) -> bool:
    """Number `event` in the caller's thread (its send stays on the publisher's): for the web's job.queued, which
    must be numbered before the job is sent to a worker whose first event would otherwise overtake it."""
    from core.redis_clients import shared_redis

    keys, args = _number_arguments(event, refresh=False)
    numbers = shared_redis().eval(NUMBER_EVENT, len(keys), *keys, *args)
    event["seq"], event["account_seq"] = int(numbers[0]), int(numbers[1])
    return True


class EventNumber:
    """An event's `seq` once the publisher has numbered it, for its webhook deliveries (webhooks.dispatch reads
    it on its own thread): None when the event could not be numbered (Redis down, a dropped event)."""

    WAIT_SECONDS = 2.0  # the publisher's Redis timeout: past it the event is not going to be numbered

    def __init__(self) -> None:
        self._seq: int | None = None
        self._settled = threading.Event()

    def settle(self, seq: int | None = None) -> None:
        if not self._settled.is_set():
            self._seq = seq
            self._settled.set()

    def wait(self) -> int | None:
        self._settled.wait(self.WAIT_SECONDS)
        return self._seq


class EventPublisher:
    """One daemon thread per process running its own event loop, with pooled Redis connections."""

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._loop = asyncio.new_event_loop()
        self._queue: asyncio.Queue[tuple[dict[str, Any], EventNumber | None]] = asyncio.Queue()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="zimage-events", daemon=True)
        self._thread.start()

    def submit(self, event: dict[str, Any], number: EventNumber | None = None) -> bool:
        with self._lock:
            if self._pending >= MAX_PENDING_EVENTS:
                logger.warning("event queue full, dropping event", extra={"job_id": event.get("job")})
                if number is not None:
                    number.settle()
                return False
            self._pending += 1
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (event, number))
        return True

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far has been sent (tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            time.sleep(0.005)
        return not self._pending

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._consume())

    async def _consume(self) -> None:
        """Events of one job go out one after the other, in order; different jobs' events in parallel."""
        import redis.asyncio as aioredis
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        client = aioredis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        in_flight = asyncio.Semaphore(MAX_EVENTS_IN_FLIGHT)
        running: set[asyncio.Task[None]] = set()
        last_of_job: dict[int, asyncio.Task[None]] = {}

        def forget(task: asyncio.Task[None], job_id: int) -> None:
            running.discard(task)
            if last_of_job.get(job_id) is task:
                del last_of_job[job_id]

        while True:
            event, number = await self._queue.get()
            job_id = event["job"]
            task = asyncio.ensure_future(
                self._deliver(layer, client, event, number, last_of_job.get(job_id), in_flight)
            )
            running.add(task)
            last_of_job[job_id] = task
            task.add_done_callback(functools.partial(forget, job_id=job_id))

    async def _deliver(
        self,
        layer: Any,
        client: Any,
        event: dict[str, Any],
        number: EventNumber | None,
        previous: asyncio.Task[None] | None,
        in_flight: asyncio.Semaphore,
    ) -> None:
        try:
            if previous is not None:
                await asyncio.wait([previous])
            async with in_flight:
                await self._send(layer, client, event, number)
        except Exception:
            logger.warning(
                "could not publish job event",
                exc_info=True,
                extra={"job_id": event.get("job"), "event": event["type"]},
            )
        finally:
            if number is not None:
                number.settle(event.get("seq"))
            with self._lock:
                self._pending -= 1

    async def _send(self, layer: Any, client: Any, event: dict[str, Any], number: EventNumber | None) -> None:
        to_job_group = not event.pop("new_job", False)
        refresh = event.pop("refresh", False)
        groups = [user_group(event["owner"]), *([job_group(event["job"])] if to_job_group else [])]
        if _sends_directly(layer):
            numbers = await _number_and_send(client, layer, event, groups, refresh)
            if numbers is not None:  # else a queue refresh for a job that has started meanwhile
                event["seq"], event["account_seq"] = numbers
                if number is not None:
                    number.settle(event["seq"])
            return
        if "seq" not in event:  # else numbered already, by _number_now
            keys, args = _number_arguments(event, refresh)
            numbers = await client.eval(NUMBER_EVENT, len(keys), *keys, *args)
            if numbers is None:  # a queue refresh for a job that has started meanwhile
                return
            event["seq"], event["account_seq"] = int(numbers[0]), int(numbers[1])
        if number is not None:  # the webhooks need not wait for the channel layer's sends
            number.settle(event["seq"])
        message = {"type": "job.event", "event": event}
        await asyncio.gather(*(layer.group_send(group, message) for group in groups))


def _sends_directly(layer: Any) -> bool:
    """Whether SEND_EVENT can stand in for the layer's group_send: channels_redis on this Redis alone, msgpack
    without encryption, one capacity for every channel. Otherwise the layer's own group_send (several round trips)."""
    from channels_redis.core import RedisChannelLayer
    from channels_redis.serializers import MsgPackSerializer

    cached = getattr(layer, "_zimage_direct", None)
    if cached is None:
        serializer = getattr(layer, "_serializer", None)
        cached = layer._zimage_direct = (
            isinstance(layer, RedisChannelLayer)
            and layer.ring_size == 1
            and layer.hosts[0].get("address") == settings.REDIS_URL
            and not layer.channel_capacity
            and isinstance(serializer, MsgPackSerializer)
            and serializer.crypter is None
        )
    return bool(cached)


_send_script: dict[int, Any] = {}  # id(client) -> SEND_EVENT registered on it


async def _number_and_send(
    client: Any, layer: Any, event: dict[str, Any], groups: list[str], refresh: bool
) -> tuple[int, int] | None:
    """Number `event` (unless _number_now did) and put it in the layer's groups, in one Redis call; None when a
    queue refresh is refused."""
    import msgpack

    numbered = "seq" in event
    fields = {key: value for key, value in event.items() if key not in ("seq", "account_seq")}
    keys, args = _number_arguments(fields, refresh)
    packer = msgpack.Packer()  # msgpack.packb's defaults, as channels_redis serializes
    event_head = packer.pack_map_header(len(fields) + 2) + b"".join(
        packer.pack(key) + packer.pack(value) for key, value in fields.items()
    )
    message_head = packer.pack_map_header(3) + packer.pack("type") + packer.pack("job.event") + packer.pack("event")
    now = time.time()
    prefix_length = layer._serializer.random_prefix_length
    args += [
        "0" if numbered else "1",
        event.get("seq", 0),
        event.get("account_seq", 0),
        message_head,
        event_head,
        int(now) - layer.group_expiry,
        int(now) - int(layer.expiry),
        now,
        layer.expiry,
        layer.capacity,
        layer.prefix,
        *(os.urandom(prefix_length) for _ in groups),  # the messages' random prefix: unique members of a zset
    ]
    script = _send_script.get(id(client))
    if script is None:
        script = _send_script[id(client)] = client.register_script(SEND_EVENT)
    numbers = await script(keys=[*keys, *(layer._group_key(group) for group in groups)], args=args)
    if numbers is None:
        return None
    return int(numbers[0]), int(numbers[1])


_publisher: EventPublisher | None = None
_lock = threading.Lock()


def get_publisher() -> EventPublisher:
    """The process's publisher; a forked child (Celery prefork) gets its own thread."""
    global _publisher
    with _lock:
        if _publisher is None or _publisher._pid != os.getpid():
            _publisher = EventPublisher()
        return _publisher


def publish(
    job: Any, event_type: str, *, new_job: bool = False, number_now: bool = False, refresh: bool = False, **data: Any
) -> bool:
    """Queue one event for the job's sockets and streams; False (and a log line) when it could not even be queued.

    `ts` is the publish time (epoch seconds) for latency measurements; `seq` and `account_seq` are added on send,
    or here with `number_now`. A `new_job`'s event goes to its owner's sockets only: nobody can be watching the job
    itself before learning its id. A `refresh` (a queued job's new place) is dropped once the job has started.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {event_type!r}.")
    event = {
        "type": event_type,
        "job": job.pk,
        "owner": job.owner_id,
        "status": job.status,
        "ts": time.time(),
        **data,
    }
    if new_job:
        event["new_job"] = True
    if refresh:
        event["refresh"] = True
    # The job's webhooks: a queue put after the caller's commit; their own thread writes and enqueues deliveries,
    # each carrying this event's seq, so a receiver orders them as the WebSocket and SSE clients do.
    number = EventNumber()
    notify_job_event(
        job_id=job.pk,
        owner_id=job.owner_id,
        event_type=event_type,
        body=functools.partial(job_body, job.pk),
        seq=number.wait,
    )
    try:
        if number_now:
            _number_now(event)
            number.settle(event["seq"])
        return get_publisher().submit(event, number)
    except Exception:  # Redis down, a broken publisher (closed loop, no thread): never fail the job
        number.settle()
        logger.warning("could not queue job event", exc_info=True, extra={"job_id": job.pk, "event": event_type})
        return False


def queue_fields(job: Any) -> dict[str, Any]:
    """Where a queued job stands in its path's queue, as its API body and its `job.queued` events say it."""
    from . import scheduling

    return standing_fields(scheduling.standing(job))


def standing_fields(place: Any) -> dict[str, Any]:
    """`queue_fields` of a standing already read (scheduling.Standing, or None when not queued)."""
    return {
        "queue_position": place.position if place is not None else None,
        "estimated_start_seconds": place.estimated_start_seconds if place is not None else None,
    }


def announce_queue_positions(path: str) -> int:
    """Tell the first QUEUE_REFRESH_LIMIT queued jobs on `path` their new place (a job there has just started):
    their standings from one reading of the queue (three queries, not five per job)."""
    from . import scheduling
    from .models import GenerationJob

    standings = scheduling.standings(path, first=QUEUE_REFRESH_LIMIT)
    jobs = GenerationJob.objects.filter(pk__in=list(standings), status="queued").only(
        "pk", "owner_id", "status", "production_path"
    )
    for job in sorted(jobs, key=lambda job: standings[job.pk].position):
        place = standings[job.pk]
        publish(
            job,
            "job.queued",
            refresh=True,
            queue_position=place.position,
            estimated_start_seconds=place.estimated_start_seconds,
        )
    return len(standings)


# A refresher that announced nothing for this long closes its database session.
QUEUE_REFRESHER_IDLE_SECONDS = 5.0


class QueueRefresher:
    """One daemon thread per process that announces queue places off the job's own thread (a start costs the
    worker a queue put); starts that come close together on one path are announced once."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._paths: queue.SimpleQueue[str | None] = queue.SimpleQueue()  # None: stop
        self._thread = threading.Thread(target=self._run, name="zimage-queue-places", daemon=True)
        self._thread.start()

    def submit(self, path: str) -> None:
        self._paths.put(path)

    def stop(self, timeout: float) -> None:
        """Announce what was asked so far, close the thread's database session, end the thread."""
        self._paths.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        from django.db import connection

        while True:
            try:
                first = self._paths.get(timeout=QUEUE_REFRESHER_IDLE_SECONDS)
            except queue.Empty:
                connection.close()  # hold no database session while idle (a busy queue keeps it: no reconnect a start)
                continue
            asked = [first]
            while not self._paths.empty():
                asked.append(self._paths.get())
            paths = {path for path in asked if path is not None}
            for path in sorted(paths):
                try:
                    announce_queue_positions(path)
                except Exception:
                    logger.warning("could not announce queue places", exc_info=True, extra={"path": path})
                    connection.close()  # a broken session is replaced on the next query
            if None in asked:
                connection.close()
                return


_refresher: QueueRefresher | None = None


def stop_queue_refresher(**_: object) -> None:
    """At process shutdown (and a test session's end): the refresher's session closed, its thread ended."""
    global _refresher
    with _lock:
        refresher, _refresher = _refresher, None
    if refresher is not None and refresher.pid == os.getpid():
        refresher.stop(timeout=10)


def request_queue_refresh(path: str) -> None:
    """Announce the path's queue places soon, from this process's refresher thread; never raises."""
    global _refresher
    try:
        with _lock:
            if _refresher is None or _refresher.pid != os.getpid():
                _refresher = QueueRefresher()
        _refresher.submit(path)
    except Exception:
        logger.warning("could not request queue places", exc_info=True, extra={"path": path})


def job_body(job_id: int) -> dict[str, Any]:
    """The job as GET /api/v1/jobs/{id} answers it: a webhook's `data`."""
    from .api import JobSerializer
    from .models import GenerationJob
    from .selectors import jobs_for

    job = GenerationJob.objects.only("owner_id").get(pk=job_id)
    return dict(JobSerializer(jobs_for(job.owner_id).get(pk=job_id)).data)


def image_event_payload(image: GeneratedImage) -> dict[str, Any]:
    """One finished image as `job.image`, `job.succeeded` and the snapshot describe it."""
    from gallery.selectors import image_urls

    return {
        "id": str(image.uuid),
        "index": image.index,
        "width": image.width,
        "height": image.height,
        "seed": image.seed,
        **image_urls(image),
    }
