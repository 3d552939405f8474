"""Which queued job a free worker starts next on a path, and where a queued job stands (issue #19).

A broker queue is first in, first out, so fairness is decided when a worker claims, not when a job is sent.

The order. Each path keeps no state of its own: it is read from the jobs table. Let `served[o]` be how many of the
last FAIR_HISTORY jobs started on the path belong to owner o, and `weight[o]` their plan's `queue_weight`
(free 1, pro 2, enterprise 4). Owner o's k-th oldest queued job (k = 1, 2, ...) gets the virtual time
`(served[o] + k) / weight[o]`; the path's queue runs in order of virtual time, ties to the oldest job. So owners
take turns (an owner who just had a job started has it counted), a pro owner gets two turns to a free owner's one,
and each owner's jobs start oldest first. Starting the head job moves none of the others: its owner's `served`
grows by one as the rank of each of its other jobs drops by one. That is why several workers claiming at once
from slightly different reads still follow one order, and why `queue_positions` predicts the start order (until
the oldest start leaves the history window). The window bounds what one claim reads, and how far an owner
arriving at a path another owner had alone may jump ahead: about half the window.

The claim. Every queued job still has one message on its path's queue (its `dispatch_token`), so the messages
wake as many claims as there are queued jobs. A worker handed the message of job H claims the path's fair next
job J instead, in one transaction that locks both rows (in id order) and swaps their tokens: J runs under the
token of the message being consumed, and H keeps J's message, still on the queue, as its own. Each token is held
by exactly one job, so no queued job is ever left without a message, a redelivered message (its worker died)
finds the job that delivery ran, and a claim is a conditional update: two claimers never take one job.
"""

from __future__ import annotations

import enum
import uuid
from collections import Counter
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Count, F

from accounts.selectors import tier_limits

from .models import GenerationJob, JobStatus

if TYPE_CHECKING:
    from collections.abc import Iterable

# Several rounds of any plausible mix of weights (4 + 2 + 1), read with one indexed query (job_path_started);
# it also bounds the jump ahead of an owner who had the path alone to about half of it.
FAIR_HISTORY = 32


def _served(path: str) -> Counter[int]:
    recent = (
        GenerationJob.objects.filter(production_path=path, started_at__isnull=False)
        .order_by("-started_at")
        .values_list("owner_id", flat=True)[:FAIR_HISTORY]
    )
    return Counter(recent)


def _ordered(path: str, *, skip_owner: Any = None) -> list[tuple[int, int]]:
    """(job id, owner id) of the path's queued jobs in fair order; `skip_owner(owner_id, tier)` leaves an owner out."""
    queued = (
        GenerationJob.objects.filter(production_path=path, status=JobStatus.QUEUED)
        .order_by("created_at", "pk")
        .values_list("pk", "owner_id", "owner__tier", "created_at")
    )
    served = _served(path)
    ranks: Counter[int] = Counter()
    keyed = []
    for pk, owner_id, tier, created_at in queued:
        if skip_owner is not None and skip_owner(owner_id, tier):
            continue
        ranks[owner_id] += 1
        weight = max(1, tier_limits(tier).queue_weight)
        keyed.append((Fraction(served[owner_id] + ranks[owner_id], weight), created_at, pk, owner_id))
    keyed.sort()
    return [(pk, owner_id) for _vt, _created, pk, owner_id in keyed]


def queue_positions(path: str) -> dict[int, int]:
    """Every queued job on `path`: its id -> how many queued jobs start before it."""
    return {pk: position for position, (pk, _owner) in enumerate(_ordered(path))}


def queue_position(job: GenerationJob) -> int | None:
    """How many queued jobs on the job's path start before it; None unless it is queued."""
    if job.status != JobStatus.QUEUED:
        return None
    return queue_positions(job.production_path).get(job.pk)


def _alive_workers() -> int:
    import redis

    from .worker import online_workers

    try:
        return len(online_workers())
    except (redis.RedisError, OSError):
        return 0


def estimated_start_seconds(job: GenerationJob) -> float | None:
    """Seconds until the job should start: what runs on its path now (the part not yet done) and the estimates of
    the jobs ahead of it, shared over the workers that can run them at once (alive by heartbeat, at most the path's
    concurrency, at least those running now). None unless queued."""
    from .engine.paths import get_path
    from .services import estimate_seconds

    if job.status != JobStatus.QUEUED:
        return None
    order = [pk for pk, _owner in _ordered(job.production_path)]
    if job.pk not in order:
        return None
    path_jobs = GenerationJob.objects.filter(production_path=job.production_path)
    running = list(path_jobs.filter(status=JobStatus.RUNNING))
    ahead = path_jobs.filter(pk__in=order[: order.index(job.pk)])
    remaining = sum(estimate_seconds(other) * (100 - other.percent) / 100 for other in running)
    waiting = sum(estimate_seconds(other) for other in ahead)
    try:
        concurrency = get_path(job.production_path).concurrency
    except KeyError:
        concurrency = 1
    parallel = max(1, len(running), min(_alive_workers(), concurrency))
    return round((remaining + waiting) / parallel, 1)


# --- the claim (the worker side) ------------------------------------------------------------------


def drawing_counts(owner_ids: Iterable[int], path: str) -> tuple[dict[int, int], int]:
    """Jobs drawing now, per owner (any path) and on `path`: a job past its last step (its images being stored by a
    store thread) holds no GPU, and counting it would send the next job back to the broker."""
    drawing = GenerationJob.objects.filter(status=JobStatus.RUNNING, progress_step__lt=F("progress_total"))
    per_owner = dict(
        drawing.filter(owner_id__in=set(owner_ids))
        .values_list("owner_id")
        .annotate(n=Count("id"))
        .values_list("owner_id", "n")
    )
    return per_owner, drawing.filter(production_path=path).count()


def claim_order(path: str, running: dict[int, int]) -> list[int]:
    """The path's queued jobs a worker may start now, fair next first: owners at their plan's running limit left out."""
    return [
        pk
        for pk, _owner in _ordered(
            path, skip_owner=lambda owner, tier: running.get(owner, 0) >= tier_limits(tier).max_running_jobs
        )
    ]


def token_holder(message_job: GenerationJob, token: str) -> GenerationJob | None:
    """The job that holds a message's token now: usually the message's own job; after a fair claim took another job
    on its behalf, the job that was given that job's token. None: no job holds it (an outdated message)."""
    try:
        wanted = uuid.UUID(token)
    except ValueError:
        return None
    related = ("owner", "source_upload", "source_image", "mask")
    own = GenerationJob.objects.select_related(*related).filter(pk=message_job.pk, dispatch_token=wanted).first()
    if own is not None:
        return own
    unfinished = GenerationJob.objects.filter(
        production_path=message_job.production_path, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    )
    return unfinished.select_related(*related).filter(dispatch_token=wanted).first()


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
