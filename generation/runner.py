"""The worker side of a job: claim a delivery, run its workflow with per-step progress, store and announce each
image, then settle; requeue or fail on errors; and the beat sweepers that recover what a dead worker left.

Every state change is a conditional UPDATE (`GenerationJob.transition`), so a duplicate delivery, a cancel or a
sweeper racing the worker finds nothing to do.
"""

from __future__ import annotations

import copy
import enum
import logging
import random
import time
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.selectors import limits_for
from core.db import commit_without_waiting_for_the_disk

from . import events, progress, scheduling
from .credits import settle_job_credits
from .engine.job_input import clean_prompt
from .engine.paths import get_path
from .engine.workflow import WorkflowContext, run_pipeline
from .joblog import job_log_context
from .models import GenerationJob, JobStatus
from .services import dispatch_job
from .store_queue import INLINE, StoreQueue, store_queue
from .style_files import local_style_file
from .worker import claimer_is_dead, worker_identity

if TYPE_CHECKING:
    from collections.abc import Callable
    from concurrent.futures import Future

    from PIL.Image import Image

    from gallery.models import GeneratedImage

logger = logging.getLogger(__name__)


class RunOutcome(enum.StrEnum):
    """What one delivery of a job did (the Celery task's result)."""

    MISSING = "missing"
    STALE = "stale"
    SKIPPED = "skipped"
    LOST_RACE = "lost-race"
    INTERRUPTED = "interrupted"
    RETRYING = "retrying"
    FAILED = "failed"
    SUCCEEDED = "succeeded"
    # Every image drawn and handed to the store thread, which stores them and then finishes the job.
    DRAWN = "drawn"


class JobInterrupted(Exception):
    """The job stopped being ours mid-run: canceled, or taken back after a missed heartbeat."""


class ClaimHeldByLiveWorker(Exception):
    """A duplicate delivery while the first is still running: try again later, never run twice."""


class OwnerAtRunningLimit(Exception):
    """The owner's plan runs this many jobs at once already: leave the GPU to others, try again soon."""


class PathAtConcurrencyLimit(Exception):
    """The job's production path runs its `concurrency` of jobs already, across all workers: try again soon."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    ConnectionError,
    TimeoutError,
)


# Seconds between a running job's `job.progress` events; each image's last step is announced as well.
PROGRESS_EVENT_EVERY = 0.5


class ProgressReporter:
    """Per-step callback: records progress + heartbeat (and notices cancellation), publishes events.

    Each step is recorded in Redis (generation.progress), which is also the cancel check; the job's row gets the
    progress and heartbeat at milestones: every `progress.db_heartbeat_every()` seconds, when the drawing ends, per
    image stored, and at every step while Redis has no record of the run (down, restarted, expired).
    """

    def __init__(
        self,
        job: GenerationJob,
        worker_id: str,
        store: StoreQueue = INLINE,
        publish_interval: float = PROGRESS_EVENT_EVERY,
    ):
        self.job = job
        self.worker_id = worker_id
        self.run = progress.run_name(job, worker_id)
        self.step = job.progress_step  # the last step drawn
        self.per_image = max(1, job.progress_total // max(1, job.num_images))
        self.last_db_beat = time.monotonic()  # the claim wrote the row's heartbeat
        self.store = store
        self.stopped: RunOutcome | None = None  # set when a store ended the job (failed, requeued, interrupted)
        self.publish_interval = publish_interval
        self.started = time.monotonic()
        self.last_publish = 0.0
        self.last_preview_step = 0
        self.stored: dict[int, GeneratedImage] = {}  # index -> image stored by this run
        self.succeeded: GenerationJob | None = None  # the job as its last image's store committed it succeeded
        self._logo: Image | None = None  # the brand kit's logo, read for the job's first image

    def _still_ours(self, **changes: Any) -> bool:
        """Apply `changes` only while the job runs on this worker: the heartbeat and the cancel check in one."""
        rows = GenerationJob.objects.filter(pk=self.job.pk, status=JobStatus.RUNNING, worker_id=self.worker_id)
        return rows.update(heartbeat_at=timezone.now(), **changes) == 1

    def on_step(self, step: int, total: int, latents: Any) -> None:
        # One Redis call per step is the live progress, the heartbeat and the cancel check.
        self.step = step
        now = time.monotonic()
        live = progress.beat(self.job.pk, self.run, step, total)
        if live is progress.Live.STOPPED:
            raise JobInterrupted
        # The row at milestones: the drawing's end (a free worker's claim counts only jobs still drawing), the
        # reaper's heartbeat every few seconds, and every step while Redis knows nothing of this run.
        unknown = live is progress.Live.UNKNOWN
        if unknown or step == total or now - self.last_db_beat >= progress.db_heartbeat_every():
            with transaction.atomic():
                # A milestone lost in a database crash is the one before it: the reaper's clock and a free worker's
                # count of jobs drawing are a moment behind, no more. So no fsync on the drawing's path.
                commit_without_waiting_for_the_disk()
                ours = self._still_ours(progress_step=step, progress_total=total)
            if not ours:
                raise JobInterrupted
            self.last_db_beat = now
            if unknown and progress.resume(self.job.pk, self.run, step, total) is progress.Live.STOPPED:
                raise JobInterrupted
        if step == total or step % self.per_image == 0 or now - self.last_publish >= self.publish_interval:
            self.last_publish = now
            elapsed = now - self.started
            eta = elapsed / step * (total - step) if step else None
            preview = self._preview(step, latents)
            with_preview: dict[str, Any] = {"preview": preview} if preview else {}
            events.publish(
                self.job,
                "job.progress",
                step=step,
                total=total,
                percent=round(100 * step / total),
                eta_seconds=eta and round(eta, 2),
                **with_preview,
            )

    def _preview(self, step: int, latents: Any) -> str | None:
        """Drawn only for a progress event that is sent, and at most every WS_PREVIEW_EVERY_STEPS steps."""
        every = settings.WS_PREVIEW_EVERY_STEPS
        if not every or latents is None or step - self.last_preview_step < every:
            return None
        from .engine.latent_previews import preview_from_latents

        self.last_preview_step = step
        return preview_from_latents(latents)

    def store_image(self, context: WorkflowContext, index: int, image: Image) -> Future[GeneratedImage | None]:
        """The save node's store: hands the image to the store thread (or stores it here, inline) and returns.

        The PNG encode, thumbnail, upload and rows cost 140 ms+ of CPU per 1024² image: on the store thread the
        pipeline draws the next image meanwhile. An earlier image whose store ended the job stops the drawing.
        """
        if self.stopped is not None:
            raise JobInterrupted
        seconds = context.generation_seconds.get(index, 0.0)
        prompts = (context.prompt, context.negative_prompt)
        submit = self.store.submit
        return submit(self._store_and_announce, index, image, *prompts, context.backend_name, seconds, context)

    def _store_and_announce(
        self,
        index: int,
        image: Image,
        prompt: str,
        negative_prompt: str,
        backend: str,
        seconds: float,
        context: WorkflowContext,
    ) -> GeneratedImage | None:
        """Store one image through the gallery and publish `job.image`; an error ends the job as a pipeline
        error would (failed and refunded, or requeued when transient), and the job's later images are dropped.

        Encoded and uploaded first, holding no lock (the pipeline's step updates take the job's row meanwhile),
        then counted and recorded in one transaction that starts by taking the running job's row: a cancel racing
        it either waits and then settles with this image counted (and charged), or wins, and the uploads are
        deleted (JobInterrupted). So a canceled job has exactly the images its settlement charged for. The job's
        last image makes it succeeded in that same transaction: one COMMIT, not two, before `job.succeeded`.
        """
        from gallery.services import store_generated_image

        if self.stopped is not None:
            return None
        claim, recorded = self._claim_for(index, context)
        with job_log_context(self.job):
            try:
                image, original = self._with_logo(image)
                stored = store_generated_image(
                    job=self.job,
                    index=index,
                    image=image,
                    prompt_used=prompt,
                    negative_prompt_used=negative_prompt,
                    seed=self.job.seed + index,
                    backend=backend,
                    generation_seconds=seconds,
                    image_type=self.job.image_type,
                    claim=claim,
                    recorded=recorded,
                    original=original,
                )
                if stored is None:
                    raise JobInterrupted
            except Exception as error:
                self.stopped = end_with_error(self.job, error)
                return None
            self.stored[index] = stored
            events.publish(self.job, "job.image", image=events.image_event_payload(stored))
            return stored

    def _claim_for(self, index: int, context: WorkflowContext) -> tuple[Callable[[], bool], Callable[[], None] | None]:
        """How an image's row transaction claims the running job: the image counted, or for the job's last image,
        the job succeeded. That on a copy of the job, kept once the row is written: a transaction that rolled back
        leaves this run's job as it was."""
        if set(range(self.job.num_images)) - context.done_indexes - self.stored.keys() - {index}:
            counted = {"images_done": F("images_done") + 1}
            return (lambda: self._still_ours(**counted, progress_step=Greatest("progress_step", self.step))), None
        job = copy.copy(self.job)
        return (lambda: self._succeeded(job, context)), (lambda: setattr(self, "succeeded", job))

    def _succeeded(self, job: GenerationJob, context: WorkflowContext) -> bool:
        """`job` succeeded, if it still runs on this worker."""
        return job.transition(
            JobStatus.SUCCEEDED,
            where={"worker_id": self.worker_id},
            enhanced_prompt=context.prompt,
            prompt_truncated=job.prompt_truncated or context.prompt_truncated,
            progress_step=job.progress_total,
            images_done=job.num_images,
            last_error="",
        )

    def _with_logo(self, image: Image) -> tuple[Image, Image | None]:
        """(what `file` shows, the model's original or None): the brand kit's logo composited when the job asked
        for it at submit (`apply_logo`) and the kit still has one; its file is read once per job, on this thread."""
        from brands.logo import composite_logo
        from gallery.services import open_stored_image

        kit = self.job.brand_kit if self.job.apply_logo else None
        if kit is None or not kit.logo:
            return image, None
        if self._logo is None:
            self._logo = open_stored_image(str(kit.logo.name))
        logoed = composite_logo(
            image,
            self._logo,
            corner=kit.logo_corner,
            margin=kit.logo_margin,
            scale=kit.logo_scale,
            opacity=kit.logo_opacity,
        )
        return logoed, image

    def wait_stored(self) -> None:
        """Until the images handed over so far are stored (or dropped): before the job ends on an error."""
        self.store.drain()

    def finish(self, context: WorkflowContext) -> RunOutcome:
        """After the job's last image is stored: succeeded (by that store, usually), announced with all its
        images, settled."""
        if self.succeeded is not None:
            job = self.succeeded
        elif self.stopped is not None:
            return self.stopped
        else:  # no image was left to store: every one was stored by an earlier delivery, or found stored
            job = self.job
            try:
                if not self._succeeded(job, context):
                    return RunOutcome.INTERRUPTED
            except Exception as error:  # on the store thread nobody else would see it: retried, or failed
                return end_with_error(job, error)
        with job_log_context(job):
            logger.info("job succeeded: %s image(s)", job.num_images)
            try:
                # Usually every image was stored by this run; after a retry, some were stored by an earlier one.
                images = self.stored
                if len(images) < job.num_images:
                    images = {image.index: image for image in job.images.all()}
                payloads = [events.image_event_payload(images[index]) for index in sorted(images)]
                events.publish(job, "job.succeeded", images=payloads)
                settle_job_credits(job=job)
            except Exception:  # succeeded and stored: beat's settle sweeper settles what this could not
                logger.exception("job succeeded, but its announcement or settlement failed")
            return RunOutcome.SUCCEEDED


def _check_runnable(job: GenerationJob) -> None:
    """The worker's check before it spends GPU time: a path it serves, and inputs present and coherent."""
    try:
        get_path(job.production_path)
    except KeyError:
        raise ValidationError(f"Production path {job.production_path!r} is not supported by this worker.") from None
    try:
        clean_prompt(job.prompt)
    except ValidationError:
        raise ValidationError("The job has no prompt.") from None
    if not job.workflow:
        raise ValidationError("The job has no workflow.")


def execute_job(
    *, job_id: int, dispatch_token: str, worker_id: str | None = None, in_background: bool = False
) -> RunOutcome:
    """Run one delivery: start the fair next job of the message's path (generation.scheduling), which is often
    the message's own job. Returns what happened; safe to call for every (re)delivery.

    `in_background` (the Celery task): the images are stored and the job finished on the process's store thread,
    and this returns DRAWN once the last image is handed over, so the worker draws the next job meanwhile.
    """
    worker_id = worker_id or worker_identity()
    store = store_queue() if in_background else INLINE
    started = claim_for_message(job_id=job_id, dispatch_token=dispatch_token, worker_id=worker_id)
    if isinstance(started, RunOutcome):
        return started
    with job_log_context(started):
        if progress.started(started) is progress.Live.STOPPED:
            logger.info("job ended right after its claim (canceled)")
            return RunOutcome.INTERRUPTED
        logger.info("job started on %s (delivery %s)", worker_id, started.deliveries)
        events.publish(started, "job.started", total=started.progress_total)
        return _run_claimed(started, worker_id, store)


def claim_for_message(*, job_id: int, dispatch_token: str, worker_id: str) -> GenerationJob | RunOutcome:
    """The job one message starts, claimed (running on `worker_id`), or what the message came to instead."""
    related = ("owner", "source_upload", "source_image", "mask", "brand_kit")
    message_job = GenerationJob.objects.select_related(*related).filter(pk=job_id).first()
    if message_job is None:
        return RunOutcome.MISSING
    with job_log_context(message_job):
        for attempt in range(CLAIM_ATTEMPTS):
            # Usually the message's own job still holds its token: the row just read says so, no second query.
            own = attempt == 0 and str(message_job.dispatch_token) == dispatch_token
            holder = message_job if own else scheduling.token_holder(message_job, dispatch_token)
            if holder is None:
                logger.info("stale delivery skipped")
                return RunOutcome.STALE
            if holder.status == JobStatus.RUNNING:
                if not claimer_is_dead(holder):
                    raise ClaimHeldByLiveWorker(holder.worker_id)
                # The worker that held it died (SIGKILL, OOM): count a retry and take it back, keeping this
                # message's token, so this delivery is the one that starts it (or the path's fair next) again.
                with job_log_context(holder):
                    if not requeue_or_fail(holder, "The worker running this job died.", redispatch=False):
                        return RunOutcome.FAILED
            if holder.status != JobStatus.QUEUED:
                logger.info("job is %s, not run again", holder.status)
                return RunOutcome.SKIPPED
            started = _claim_fair_next(holder, dispatch_token, worker_id)
            if started is not None:
                return started
        return RunOutcome.LOST_RACE


# Each attempt re-reads who holds the message's token: it moves only when a concurrent claim hands it over.
CLAIM_ATTEMPTS = 5


def _unrunnable(job: GenerationJob) -> str | None:
    """Why the worker must fail the job instead of running it: past the delivery cap, or inputs it cannot run."""
    if job.deliveries >= settings.JOB_MAX_DELIVERIES:
        return f"Gave up after {job.deliveries} deliveries to workers."
    try:
        _check_runnable(job)
    except ValidationError as error:
        return "; ".join(error.messages)
    return None


def _claim_fair_next(holder: GenerationJob, token: str, worker_id: str) -> GenerationJob | RunOutcome | None:
    """Claim the fair next job of the holder's path under the message's token: the job now ours, an outcome to
    return, or None when the token moved to another job meanwhile (look it up again)."""
    if (reason := _unrunnable(holder)) is not None:
        fail_job(holder, reason)
        return RunOutcome.FAILED
    path = get_path(holder.production_path)
    for _attempt in range(CLAIM_ATTEMPTS):
        unrunnable: list[tuple[GenerationJob, str]] = []
        started: GenerationJob | None = None
        with scheduling.path_turn(path.name) as turn:
            running, on_path = scheduling.drawing_counts(turn.owners | {holder.owner_id}, path.name)
            if on_path >= path.concurrency:
                raise PathAtConcurrencyLimit(path.concurrency)
            turns = turn.next_turns(running, limit=CLAIM_ATTEMPTS)
            if not turns:
                raise OwnerAtRunningLimit(limits_for(holder.owner).max_running_jobs)
            for job, place in turn.candidates(turns, known=holder):
                if job is not holder and (reason := _unrunnable(job)) is not None:
                    unrunnable.append((job, reason))  # failed once the path's turn is over
                    continue
                claimed = {
                    "worker_id": worker_id,
                    "heartbeat_at": timezone.now(),
                    "deliveries": job.deliveries + 1,  # claims are serialised by the status condition
                    "progress_step": 0,
                }
                if job is holder:
                    # The fair next job is the message's own: no token to swap, so one conditional UPDATE claims it.
                    if not job.transition(JobStatus.RUNNING, where={"dispatch_token": token}, **claimed):
                        return None  # taken, canceled, or its token moved meanwhile: look it up again
                else:
                    result = scheduling.claim(holder=holder, job=job, token=token, **claimed)
                    if result == scheduling.ClaimResult.HOLDER_MOVED:
                        return None
                    if result == scheduling.ClaimResult.TAKEN:
                        continue
                turn.charge(place)
                started = job
                break
        for job, reason in unrunnable:
            with job_log_context(job):
                fail_job(job, reason)
        if started is not None:
            if len(turn.queued) > 1:  # others wait on the path: their places moved up (announced off this thread)
                events.request_queue_refresh(path.name)
            return started
    return RunOutcome.LOST_RACE


def _run_claimed(job: GenerationJob, worker_id: str, store: StoreQueue) -> RunOutcome:
    from gallery.services import open_stored_image

    reporter = ProgressReporter(job, worker_id, store)
    context = WorkflowContext(
        job=job.job_input(),
        on_step=reporter.on_step,
        store_image=reporter.store_image,
        load_image=open_stored_image,
        load_style=local_style_file,
        # Only a job claimed before can have stored images already: skip the query on a first delivery.
        done_indexes=set(job.images.values_list("index", flat=True)) if job.deliveries > 1 else set(),
    )
    try:
        run_pipeline(job.workflow, context)
    except Exception as error:
        reporter.wait_stored()  # the images drawn before the error are stored (or dropped) first, as inline
        if reporter.succeeded is None:
            return reporter.stopped or end_with_error(job, error)
        # The last image's store made the job succeeded already: what failed after it changes nothing it made.
        logger.warning("error after the job's last image was stored", exc_info=error)
    finish = store.submit(reporter.finish, context)
    return RunOutcome.DRAWN if store.in_background else finish.result()


def end_with_error(job: GenerationJob, error: Exception) -> RunOutcome:
    """How an error ends a running job, raised by its pipeline or by the store of one of its images."""
    from celery.exceptions import SoftTimeLimitExceeded

    if isinstance(error, JobInterrupted):
        logger.info("job stopped: no longer running on this worker")
        return RunOutcome.INTERRUPTED
    if isinstance(error, SoftTimeLimitExceeded):
        fail_job(job, f"Timed out after {settings.JOB_SOFT_TIME_LIMIT} s.")
        return RunOutcome.FAILED
    if isinstance(error, TRANSIENT_ERRORS):
        connection.close()  # a broken connection is replaced on the next query
        logger.warning("transient error, will retry", exc_info=error)
        requeue_or_fail(job, f"{type(error).__name__}: {error}", redispatch=True)
        return RunOutcome.RETRYING
    logger.error("job failed", exc_info=error)
    fail_job(job, f"{type(error).__name__}: {error}")
    return RunOutcome.FAILED


def retry_backoff(retry_count: int) -> float:
    """About 5 s, 10 s, 20 s, with +-20 % jitter so a burst of failures does not return in lockstep."""
    base: float = settings.JOB_RETRY_BACKOFF_BASE * 2 ** max(0, retry_count - 1)
    return base * random.uniform(0.8, 1.2)  # noqa: S311 (jitter, not security)


def requeue_or_fail(job: GenerationJob, error: str, *, redispatch: bool) -> bool:
    """Back to queued, or failed past the cap. Sent again (`redispatch`): under a new dispatch token, so the old
    message becomes stale. Not sent (the delivery that found its worker dead runs it): it keeps its token."""
    job.refresh_from_db()
    if job.status != JobStatus.RUNNING:
        return False
    if job.retry_count >= settings.JOB_MAX_RETRIES:
        fail_job(job, f"{error} (gave up after {job.retry_count} retries)")
        return False
    requeued = job.transition(
        JobStatus.QUEUED,
        retry_count=job.retry_count + 1,
        last_error=error,
        dispatch_token=uuid.uuid4() if redispatch else job.dispatch_token,
        worker_id="",
        heartbeat_at=None,
        dispatched_at=None,
    )
    if requeued:
        events.publish(job, "job.queued", retry_count=job.retry_count, error=error)
        if redispatch:
            dispatch_job(job, countdown=retry_backoff(job.retry_count))
    return requeued


def fail_job(job: GenerationJob, message: str) -> bool:
    """Failed with `message`, its unproduced images' credits released; False when it had already finished."""
    job.refresh_from_db()
    if job.is_final or not job.transition(JobStatus.FAILED, last_error=message[:2000]):
        return False
    logger.error("job failed: %s", message)
    events.publish(job, "job.failed", error=message)
    settle_job_credits(job=job)
    return True


# --- sweepers (beat) -------------------------------------------------------------------------


def redispatch_queued_jobs(*, older_than: float | None = None, limit: int = 500) -> int:
    """Send again jobs that are queued but were never sent, or were sent long ago (a lost message)."""
    cutoff = timezone.now() - timedelta(seconds=settings.JOB_REDISPATCH_AFTER if older_than is None else older_than)
    stuck = (
        GenerationJob.objects.filter(status=JobStatus.QUEUED, created_at__lte=cutoff)
        .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lte=cutoff))
        .order_by("created_at")[:limit]
    )
    return sum(dispatch_job(job) for job in stuck)


def reap_stale_jobs(*, limit: int = 500) -> int:
    """Jobs `running` whose worker stopped heart-beating: retry them, or fail them past the cap."""
    stale_before = timezone.now() - timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT)
    reaped = 0
    for job in GenerationJob.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=stale_before)[:limit]:
        with job_log_context(job):
            logger.warning("no heartbeat from %s, taking the job back", job.worker_id)
            reaped += requeue_or_fail(job, f"Worker {job.worker_id} stopped responding.", redispatch=True)
    return reaped


def fail_overrunning_jobs(*, limit: int = 500) -> int:
    """Jobs `running` for over twice the hard time limit, heart-beating or not (a wedged step never ends):
    failed, and their unproduced images' credits released. A rerun finds nothing left to do."""
    started_before = timezone.now() - timedelta(seconds=2 * settings.JOB_TIME_LIMIT)
    overrunning = GenerationJob.objects.filter(status=JobStatus.RUNNING, started_at__lt=started_before)
    message = f"Still running {2 * settings.JOB_TIME_LIMIT} s after it started, past the hard time limit."
    failed = 0
    for job in overrunning.order_by("started_at")[:limit]:
        with job_log_context(job):
            failed += fail_job(job, message)
    return failed
