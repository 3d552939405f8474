"""A running job's live progress in Redis; its database row is written at milestones only (#24 part 5).

Each denoising step writes the step, the total and a heartbeat to one Redis hash per job (one script call, its
TTL refreshed), and the same call is the cancel check: the hash names the run (`worker_id#deliveries`) it
belongs to, and whoever moves the job out of `running` (a cancel, the reaper, a failure) empties that name
(`ended`), so the worker stops at its next step. The row is written when the job starts, per image stored, when
the drawing ends, when it ends, and its `heartbeat_at` at most every `db_heartbeat_every()` seconds, which keeps
the reaper's `JOB_HEARTBEAT_TIMEOUT` and `claimer_is_dead` working unchanged.

The row stays the truth: a missing hash (expired, Redis restarted) or an unreachable Redis makes the worker ask
the row (the conditional UPDATE it made every step before), and readers (`overlay`) fall back to the row's
milestones, so a job's progress stays readable after its worker died.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from enum import Enum
from typing import TYPE_CHECKING

from django.conf import settings

from core.redis_clients import shared_redis

if TYPE_CHECKING:
    from .models import GenerationJob

logger = logging.getLogger(__name__)


class Live(Enum):
    OURS = "ours"  # recorded: the job still runs on this run
    STOPPED = "stopped"  # the job left this run (canceled, taken back, ended): stop drawing
    UNKNOWN = "unknown"  # no live record (or Redis unreachable): the database row decides


def live_key(job_id: int) -> str:
    return f"zimage:job:{job_id}:live"


def run_name(job: GenerationJob, worker_id: str | None = None) -> str:
    """Which run of the job a live record belongs to: its worker and its delivery count."""
    return f"{worker_id or job.worker_id}#{job.deliveries}"


def ttl() -> int:
    """Seconds a live record outlives its last step: past it, readers fall back to the row."""
    return int(max(60, 2 * settings.JOB_HEARTBEAT_TIMEOUT))


def db_heartbeat_every() -> float:
    """How often a running job's row gets its heartbeat: a third of the timeout, so two can be missed."""
    return float(min(10.0, settings.JOB_HEARTBEAT_TIMEOUT / 3))


# KEYS[1] the live hash; ARGV: run, step, total, epoch seconds, ttl, mode. Mode "beat": record only while the hash
# names this run (1), else 0 when it names another or none (""), 2 when there is no hash. Mode "claim": this run
# starts, whatever an earlier run left, unless the job has ended for good since (a cancel right after the claim).
# Mode "resume": the row said the job is ours and the hash was missing: create it, unless someone wrote it
# meanwhile (0 unless it names this run).
LIVE_SCRIPT = """
local run = redis.call('HGET', KEYS[1], 'run')
if ARGV[6] == 'claim' then
  if redis.call('HGET', KEYS[1], 'final') == '1' then return 0 end
elseif ARGV[6] == 'beat' then
  if not run then return 2 end
  if run ~= ARGV[1] then return 0 end
elseif ARGV[6] == 'resume' then
  if run and run ~= ARGV[1] then return 0 end
end
redis.call('HSET', KEYS[1], 'run', ARGV[1], 'step', ARGV[2], 'total', ARGV[3], 'beat', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""

_script_sha: dict[int, str] = {}  # id(client) -> the script's SHA, loaded once per client


def _call(job_id: int, run: str, step: int, total: int, mode: str) -> int:
    import redis

    client = shared_redis(timeout=STEP_TIMEOUT)
    sha = _script_sha.get(id(client))
    args = (run, step, total, f"{time.time():.3f}", ttl(), mode)
    if sha is not None:
        try:
            return int(client.evalsha(sha, 1, live_key(job_id), *args))
        except redis.exceptions.NoScriptError:  # Redis restarted and forgot it
            pass
    _script_sha[id(client)] = client.script_load(LIVE_SCRIPT)
    return int(client.evalsha(_script_sha[id(client)], 1, live_key(job_id), *args))


# A step waits at most this long on Redis before the row decides (a hung Redis must not stall the pipeline).
STEP_TIMEOUT = 0.5
# After a Redis error, steps ask the row alone for this long: a hung Redis must not cost every step a timeout.
REDIS_BACKOFF = 5.0
_redis_down_until = 0.0


def _record(job_id: int, run: str, step: int, total: int, mode: str) -> Live:
    import redis

    global _redis_down_until
    if time.monotonic() < _redis_down_until:
        return Live.UNKNOWN
    try:
        answer = _call(job_id, run, step, total, mode)
    except (redis.RedisError, OSError):
        _redis_down_until = time.monotonic() + REDIS_BACKOFF
        logger.warning("live progress: Redis unreachable, the database row decides", exc_info=True)
        return Live.UNKNOWN
    return {1: Live.OURS, 0: Live.STOPPED}.get(answer, Live.UNKNOWN)


def started(job: GenerationJob) -> Live:
    """The claim's record: this run owns the job's live progress from now on (step 0)."""
    return _record(job.pk, run_name(job), job.progress_step, job.progress_total, "claim")


def beat(job_id: int, run: str, step: int, total: int) -> Live:
    """One step: recorded, STOPPED (the job left this run), or UNKNOWN (ask the row, then `resume`)."""
    return _record(job_id, run, step, total, "beat")


def resume(job_id: int, run: str, step: int, total: int) -> Live:
    """After the row confirmed the job is still this run's: record it again; STOPPED if it left meanwhile."""
    return _record(job_id, run, step, total, "resume")


def ended(job_id: int, *, final: bool) -> None:
    """The job left `running` (canceled, failed, succeeded: `final`; or requeued): its run's next step stops, and a
    final job's record refuses a later claim's. Never raises."""
    import redis

    try:
        client = shared_redis()
        pipe = client.pipeline(transaction=True)
        pipe.hset(live_key(job_id), mapping={"run": "", **({"final": "1"} if final else {})})
        pipe.expire(live_key(job_id), ttl())
        pipe.execute()
    except (redis.RedisError, OSError):
        # The worker then notices at its next database heartbeat or image, as the row no longer names it.
        logger.warning("live progress: could not mark job %s ended", job_id, exc_info=True)


def overlay(jobs: Iterable[GenerationJob]) -> None:
    """Set each running job's progress from its live record when it is ahead of the row's last milestone (one
    Redis round trip for them all); the row's values stay where there is none or Redis is unreachable."""
    import redis

    from .models import JobStatus

    running = [job for job in jobs if job.status == JobStatus.RUNNING]
    if not running:
        return
    try:
        pipe = shared_redis().pipeline(transaction=False)
        for job in running:
            pipe.hmget(live_key(job.pk), "run", "step", "total")
        records = pipe.execute()
    except (redis.RedisError, OSError):
        logger.warning("live progress: Redis unreachable, showing the row's progress", exc_info=True)
        return
    for job, (run, step, total) in zip(running, records, strict=True):
        if run is None or run.decode() != run_name(job) or step is None:
            continue
        if int(step) > job.progress_step:
            job.progress_step = int(step)
            job.progress_total = int(total) if total else job.progress_total
