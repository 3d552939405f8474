"""Which queued job a free worker starts next on a path, and where a queued job stands (issue #19).

A broker queue is first in, first out, so fairness is decided when a worker claims, not when a job is sent.

The order: stride scheduling (start-time fair queueing). Each owner on a path has a pass (FairQueuePass), the path a
clock (FairQueue.virtual_time, the pass of the last job started). An owner's next job starts at
`max(its pass, the clock)`, so an owner who (re)joins the queue, or was passed over at its running limit, starts
at the current round: never behind it, so no burst of catching up. The owner with the lowest pass goes next (ties:
the lower weight, then the oldest job); starting a job moves the clock to its pass and the owner's pass on by its
stride, STRIDE_UNIT / `Tier.queue_weight`. So owners take turns, an enterprise owner (weight 4) gets four to a free
owner's one, interleaved, and a newcomer gets at most its weight of turns in a row. Each owner's jobs start oldest
first. `standings` replays the same rule from the stored passes, so it predicts the start order.

The claim. Every queued job still has one message on its path's queue (its `dispatch_token`), so the messages
wake as many claims as there are queued jobs. A worker handed the message of job H claims the path's fair next
job J instead, in one transaction that holds the path's FairQueue row (claims on a path take turns, so each reads
the passes the last one wrote), locks both job rows (in id order) and swaps their tokens: J runs under the token
of the message being consumed, and H keeps J's message, still on the queue, as its own. Each token is held by
exactly one job, so no queued job is ever left without a message, a redelivered message (its worker died) finds
the job that delivery ran, and a claim is a conditional update: two claimers never take one job.
"""

from __future__ import annotations

import contextlib
import enum
import heapq
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.db.models import Count, F, Q

from accounts.selectors import tier_limits
from core.db import commit_without_waiting_for_the_disk

from .models import FairQueue, FairQueuePass, GenerationJob, JobStatus

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

# The least common multiple of 1..16 (Tier.queue_weight's range), so every weight's stride is a whole number.
STRIDE_UNIT = 720720

RELATED = ("owner", "source_upload", "source_image", "mask", "brand_kit")


def stride(weight: int) -> int:
    return STRIDE_UNIT // max(1, weight)


@dataclass
class _Owner:
    owner_id: int
    weight: int
    jobs: list[int] = field(default_factory=list)  # queued job ids, oldest first


@dataclass(frozen=True)
class Turn:
    """One queued job's place in the fair order: the pass it starts at."""

    job_id: int
    owner_id: int
    weight: int
    start_pass: int


# The path's queued jobs (oldest first) with each owner's stored pass and the path's clock, in one query: the passes
# joined on (queue, owner), their unique index; where the path has no clock row yet, no pass and a clock of 0.
_QUEUE_STATE = """
SELECT job.id, job.owner_id, owner.tier, pass.next_pass, queue.virtual_time
FROM {job} job
JOIN {user} owner ON owner.id = job.owner_id
LEFT JOIN {queue} queue ON queue.production_path = job.production_path
LEFT JOIN {pass_} pass ON pass.queue_id = queue.id AND pass.owner_id = job.owner_id
WHERE job.production_path = %s AND job.status = %s
ORDER BY job.created_at, job.id
"""


def _queue_state(path: str) -> tuple[list[tuple[int, int, str]], int, dict[int, int]]:
    """(job id, owner id, owner's tier) of the path's queued jobs, oldest first; the path's clock; the stored passes
    of their owners. One query (it was three: the jobs, the clock, the passes)."""
    tables = {
        "job": GenerationJob._meta.db_table,
        "user": GenerationJob._meta.get_field("owner").related_model._meta.db_table,
        "queue": FairQueue._meta.db_table,
        "pass_": FairQueuePass._meta.db_table,
    }
    with connection.cursor() as cursor:
        cursor.execute(_QUEUE_STATE.format(**tables), [path, JobStatus.QUEUED])
        rows = cursor.fetchall()
    queued = [(pk, owner_id, tier) for pk, owner_id, tier, _pass, _clock in rows]
    passes = {owner_id: next_pass for _pk, owner_id, _tier, next_pass, _clock in rows if next_pass is not None}
    clock = next((clock for *_, clock in rows if clock is not None), 0)
    return queued, clock, passes


def fair_order(
    queued: list[tuple[int, int, str]],
    clock: int,
    passes: dict[int, int],
    *,
    skip_owner: Callable[[int, str], bool] | None = None,
    limit: int | None = None,
) -> list[Turn]:
    """The start order of `queued` (oldest first) under stride scheduling; `skip_owner(owner_id, tier)` leaves an
    owner out (at its running limit), `limit` stops after that many turns."""
    owners: dict[int, _Owner] = {}
    skipped: set[int] = set()
    for pk, owner_id, tier in queued:
        owner = owners.get(owner_id)
        if owner is None:
            if owner_id in skipped or (skip_owner is not None and skip_owner(owner_id, tier)):
                skipped.add(owner_id)
                continue
            owner = owners[owner_id] = _Owner(owner_id, max(1, tier_limits(tier).queue_weight))
        owner.jobs.append(pk)
    # (pass, weight, oldest job, owner): the lowest pass first; on a tie the lower weight, so a newcomer of a
    # higher weight gets at most its weight of turns before the owner it joined; then the oldest job.
    heap = [(max(passes.get(o.owner_id, 0), clock), o.weight, o.jobs[0], o.owner_id, 0) for o in owners.values()]
    heapq.heapify(heap)
    order: list[Turn] = []
    while heap and (limit is None or len(order) < limit):
        start, weight, head, owner_id, index = heapq.heappop(heap)
        order.append(Turn(head, owner_id, weight, start))
        jobs = owners[owner_id].jobs
        if index + 1 < len(jobs):
            heapq.heappush(heap, (start + stride(weight), weight, jobs[index + 1], owner_id, index + 1))
    return order


def _ordered(path: str) -> list[Turn]:
    """The path's queued jobs in start order: one query."""
    queued, clock, passes = _queue_state(path)
    return fair_order(queued, clock, passes)


# The heartbeats change every HEARTBEAT_EVERY (10 s) and are read with a SCAN of the whole Redis database, which
# grows with the jobs' event histories: every submit's estimate read them (2026-12-03). Each process keeps the
# count this long.
ALIVE_WORKERS_CACHE_SECONDS = 5.0
_alive_cache: list[float] = []  # [expires (monotonic), count] once read


def _alive_workers() -> int:
    import redis

    from .worker import online_workers

    now = time.monotonic()
    if _alive_cache and _alive_cache[0] > now:
        return int(_alive_cache[1])
    try:
        count = len(online_workers())
    except (redis.RedisError, OSError):
        return 0
    _alive_cache[:] = [now + ALIVE_WORKERS_CACHE_SECONDS, count]
    return count


@dataclass(frozen=True)
class Standing:
    """Where a queued job stands: how many queued jobs start before it, and about how many seconds until it does."""

    position: int
    estimated_start_seconds: float


# What estimate_seconds and percent read of a job: the estimate's rows are read with these columns only.
ESTIMATE_FIELDS = (
    "pk",
    "status",
    "model",
    "mode",
    "width",
    "height",
    "steps",
    "num_images",
    "progress_step",
    "progress_total",
)


def standings(path: str, job_ids: Iterable[int] | None = None, *, first: int | None = None) -> dict[int, Standing]:
    """The standing of the queued jobs `job_ids` on `path` (or of its `first` jobs in start order), from one reading
    of the queue: two queries however many jobs (the order, then the running jobs and those ahead).

    The estimate: what runs on the path now (the part not yet done) and the estimates of the jobs ahead, shared over
    the workers that can run them at once (alive by heartbeat, at most the path's concurrency, at least those
    running now). A job that is not queued on the path has no standing.
    """
    from .engine.paths import get_path
    from .services import estimate_seconds

    order = [turn.job_id for turn in _ordered(path)]
    if job_ids is None:
        wanted = dict(enumerate(order[:first]))
    else:
        places = {pk: position for position, pk in enumerate(order)}
        wanted = {places[pk]: pk for pk in set(job_ids) if pk in places}
    if not wanted:
        return {}
    ahead_of_last = order[: max(wanted)]
    rows = list(
        GenerationJob.objects.filter(production_path=path)
        .filter(Q(status=JobStatus.RUNNING) | Q(pk__in=ahead_of_last))
        .order_by()
        .only(*ESTIMATE_FIELDS)
    )
    running = [row for row in rows if row.status == JobStatus.RUNNING]
    estimates = {row.pk: estimate_seconds(row) for row in rows}
    remaining = sum(estimates[other.pk] * (100 - other.percent) / 100 for other in running)
    try:
        concurrency = get_path(path).concurrency
    except KeyError:
        concurrency = 1
    parallel = max(1, len(running), min(_alive_workers(), concurrency))
    result: dict[int, Standing] = {}
    waiting = 0.0
    for position, pk in enumerate(order[: max(wanted) + 1]):
        if position in wanted:
            result[pk] = Standing(position, round((remaining + waiting) / parallel, 1))
        waiting += estimates.get(pk, 0.0)  # a job ahead deleted meanwhile adds nothing, as before
    return result


def standing(job: GenerationJob) -> Standing | None:
    """The job's standing in its path's queue; None unless it is queued."""
    if job.status != JobStatus.QUEUED:
        return None
    return standings(job.production_path, [job.pk]).get(job.pk)


# --- the claim (the worker side) ------------------------------------------------------------------


def drawing_counts(owner_ids: Iterable[int], path: str) -> tuple[dict[int, int], int]:
    """Jobs drawing now, per owner (any path) and on `path`, in one query: a job past its last step (its images
    being stored by a store thread) holds no GPU, and counting it would send the next job back to the broker."""
    owners = set(owner_ids)
    drawing = GenerationJob.objects.filter(status=JobStatus.RUNNING, progress_step__lt=F("progress_total"))
    rows = (
        drawing.filter(Q(owner_id__in=owners) | Q(production_path=path))
        .order_by()
        .values_list("owner_id", "production_path")
        .annotate(n=Count("id"))
    )
    per_owner: dict[int, int] = {}
    on_path = 0
    for owner_id, job_path, count in rows:
        if owner_id in owners:
            per_owner[owner_id] = per_owner.get(owner_id, 0) + count
        if job_path == path:
            on_path += count
    return per_owner, on_path


_CHARGE = """
WITH clock AS (UPDATE {queue} SET virtual_time = %s WHERE id = %s)
INSERT INTO {pass_} (queue_id, owner_id, next_pass) VALUES (%s, %s, %s)
ON CONFLICT (queue_id, owner_id) DO UPDATE SET next_pass = EXCLUDED.next_pass
"""


class PathTurn:
    """A path's claims, one at a time: built by `path_turn` inside the transaction that holds the path's clock."""

    def __init__(self, path: str, queue: FairQueue):
        self.path = path
        self.queue = queue  # its clock is the locked row's
        self.queued, _clock, self.passes = _queue_state(path)
        self.owners = {owner_id for _pk, owner_id, _tier in self.queued}

    def next_turns(self, running: dict[int, int], *, limit: int) -> list[Turn]:
        """The first `limit` turns a worker may start now, fair next first: owners at their plan's running limit
        left out. No query."""
        return fair_order(
            self.queued,
            self.queue.virtual_time,
            self.passes,
            skip_owner=lambda owner, tier: running.get(owner, 0) >= tier_limits(tier).max_running_jobs,
            limit=limit,
        )

    def candidates(self, turns: list[Turn], *, known: GenerationJob) -> Iterator[tuple[GenerationJob, Turn]]:
        """The turns' jobs, still queued, in order. `known` (the message's own job, just read) is used as it is when
        it comes first, the usual case, and the others are read in one query only if the caller gets past it."""
        if turns and turns[0].job_id == known.pk:
            yield known, turns[0]  # its claim is conditional on it still being queued under its token
            turns = turns[1:]
        if not turns:
            return
        jobs = GenerationJob.objects.select_related(*RELATED).filter(
            pk__in=[turn.job_id for turn in turns], status=JobStatus.QUEUED
        )
        by_pk = {job.pk: job for job in jobs}
        if known.pk in by_pk:
            by_pk[known.pk] = known  # the caller tells the message's own job by identity
        yield from ((by_pk[turn.job_id], turn) for turn in turns if turn.job_id in by_pk)

    def charge(self, turn: Turn) -> None:
        """The turn's job started: the clock moves to its pass, its owner's pass on by the owner's stride. One
        statement on PostgreSQL (the clock's UPDATE in the upsert's WITH), two elsewhere."""
        next_pass = turn.start_pass + stride(turn.weight)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    _CHARGE.format(queue=FairQueue._meta.db_table, pass_=FairQueuePass._meta.db_table),
                    [turn.start_pass, self.queue.pk, self.queue.pk, turn.owner_id, next_pass],
                )
            return
        FairQueue.objects.filter(pk=self.queue.pk).update(virtual_time=turn.start_pass)
        FairQueuePass.objects.bulk_create(
            [FairQueuePass(queue=self.queue, owner_id=turn.owner_id, next_pass=next_pass)],
            update_conflicts=True,
            unique_fields=["queue", "owner"],
            update_fields=["next_pass"],
        )


@contextlib.contextmanager
def path_turn(path: str) -> Iterator[PathTurn]:
    """A transaction holding the path's clock row (created on first use): claims on one path are serialised, so
    each reads the passes the one before it wrote."""
    with transaction.atomic():
        # Safe for a claim: a lost claim leaves its job queued, where the re-send sweeper finds it, and its worker's
        # next write fails on the restarted database.
        commit_without_waiting_for_the_disk()
        queue = FairQueue.objects.select_for_update().filter(production_path=path).first()
        if queue is None:
            FairQueue.objects.bulk_create([FairQueue(production_path=path)], ignore_conflicts=True)
            queue = FairQueue.objects.select_for_update().get(production_path=path)
        yield PathTurn(path, queue)


def token_holder(message_job: GenerationJob, token: str) -> GenerationJob | None:
    """The job that holds a message's token now: usually the message's own job; after a fair claim took another job
    on its behalf, the job that was given that job's token. None: no job holds it (an outdated message)."""
    try:
        wanted = uuid.UUID(token)
    except ValueError:
        return None
    own = GenerationJob.objects.select_related(*RELATED).filter(pk=message_job.pk, dispatch_token=wanted).first()
    if own is not None:
        return own
    unfinished = GenerationJob.objects.filter(
        production_path=message_job.production_path, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    )
    return unfinished.select_related(*RELATED).filter(dispatch_token=wanted).first()


class ClaimResult(enum.StrEnum):
    CLAIMED = "claimed"
    TAKEN = "taken"  # the candidate is no longer queued (another worker started it, or it was canceled)
    HOLDER_MOVED = "holder-moved"  # the message's token moved to another job meanwhile: look it up again


class _Undo(Exception):
    pass


def claim(*, holder: GenerationJob, job: GenerationJob, token: str, **running: Any) -> ClaimResult:
    """Start `job` for the message whose token `holder` holds: `job` takes the token (and that message's task id),
    `holder` takes `job`'s. One transaction; both rows locked in id order, so two claims never deadlock; every
    write conditional, so it is also correct where row locks do not exist (SQLite serialises writers)."""
    try:
        with transaction.atomic():
            rows = {
                row.pk: row
                for row in GenerationJob.objects.select_for_update()
                .filter(pk__in={holder.pk, job.pk})
                .order_by("pk")
                .only("pk", "status", "dispatch_token", "celery_task_id", "dispatched_at")
            }
            held = rows.get(holder.pk)
            if held is None or held.status != JobStatus.QUEUED or str(held.dispatch_token) != token:
                return ClaimResult.HOLDER_MOVED
            row = rows.get(job.pk)
            if row is None or row.status != JobStatus.QUEUED:
                return ClaimResult.TAKEN
            if job.pk != holder.pk:
                handed = GenerationJob.objects.filter(
                    pk=holder.pk, status=JobStatus.QUEUED, dispatch_token=held.dispatch_token
                ).update(
                    dispatch_token=row.dispatch_token,
                    celery_task_id=row.celery_task_id,
                    dispatched_at=row.dispatched_at,
                )
                if not handed:
                    raise _Undo(ClaimResult.HOLDER_MOVED)
            job.status = JobStatus.QUEUED
            if not job.transition(
                JobStatus.RUNNING,
                dispatch_token=held.dispatch_token,
                celery_task_id=held.celery_task_id,
                dispatched_at=held.dispatched_at,
                **running,
            ):
                raise _Undo(ClaimResult.TAKEN)
    except _Undo as undo:
        return ClaimResult(undo.args[0])
    if job.pk != holder.pk:
        holder.dispatch_token, holder.celery_task_id, holder.dispatched_at = (
            row.dispatch_token,
            row.celery_task_id,
            row.dispatched_at,
        )
    return ClaimResult.CLAIMED
