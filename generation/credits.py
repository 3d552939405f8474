"""What a job reserves and settles, on top of the ledger's one write (accounts.services.write_ledger_entry).

Credits are reserved at submit inside the job's own transaction (`admit_job`), charged for the images produced
and released for the rest when the job finishes (`settle_job_credits`) — exactly once, even when a task runs
twice — and a beat sweeper settles what a dead process left (`settle_finished_jobs`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Subquery
from django.utils.translation import gettext as _

from accounts import reasons
from accounts.exceptions import EmailNotVerified, TooManyJobs
from accounts.models import CreditEntry, EntryKind
from accounts.selectors import tier_limits
from accounts.services import lock_account, write_ledger_entry

from .engine.job_input import JobMode
from .image_input import upscale_price
from .models import FINAL_STATUSES, GenerationJob, JobStatus

if TYPE_CHECKING:
    from accounts.models import User
    from accounts.tiers import TierLimits

logger = logging.getLogger(__name__)

JOB_SLOT_RETRY_AFTER = 15  # seconds a client at its plan's job limit is told to wait (429 Retry-After)


def job_price(*, mode: str, per_image: int, num_images: int, width: int, height: int) -> int:
    """What a job costs. Text, image-to-image, inpaint and outpaint: the template's (or 1) credit per image.
    Upscale: one credit per started megapixel of output (gallery images enlarge 2x: 1024² costs 4)."""
    if mode == JobMode.UPSCALE:
        return upscale_price(width, height)
    return per_image * num_images


def _check_job_size(user: User, job: GenerationJob, limits: TierLimits) -> None:
    """The plan's per-job limits: images per job and the largest side (an upscale has its own factor limit)."""
    plan = user.get_tier_display()
    if job.num_images > limits.max_images_per_job:
        raise ValidationError(
            {
                "num_images": _("The %(plan)s plan allows at most %(count)s images per job.")
                % {"plan": plan, "count": limits.max_images_per_job}
            }
        )
    if job.mode == JobMode.UPSCALE:
        return
    for field in ("width", "height"):
        if getattr(job, field) > limits.max_side:
            raise ValidationError(
                {
                    field: _("The %(plan)s plan allows images up to %(max_side)s px a side.")
                    % {"plan": plan, "max_side": limits.max_side}
                }
            )


def admit_job(*, user: User, job: GenerationJob, max_queued: int | None = None) -> CreditEntry | None:
    """Called by submit_job inside its transaction, right after creating the job: enforce the plan, reserve.

    `max_queued` replaces the plan's max_queued_jobs for this job: a campaign batch's jobs may wait up to the
    plan's batch size (batches.services), so a batch the plan allows can be submitted whole.

    Raises EmailNotVerified, ValidationError, InsufficientCredits or TooManyJobs; the caller's transaction then
    rolls the job back with everything else (hence no savepoint of its own).
    """
    if not user.is_email_verified:  # the sign-up credits wait for it, and so does the GPU, free templates included
        raise EmailNotVerified
    limits = tier_limits(user.tier)
    _check_job_size(user, job, limits)
    with transaction.atomic(savepoint=False):
        # The reservation's UPDATE locks the user's row, so concurrent submits of one user reach the count
        # below one after the other. The job was created in this transaction: it has no reservation yet.
        entry = _write_reservation(user, job)
        if entry is None:
            lock_account(user.pk)
        counts = dict(
            GenerationJob.objects.filter(owner_id=user.pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
            .order_by()
            .values_list("status")
            .annotate(n=Count("id"))
        )
        queued, running = counts.get(JobStatus.QUEUED, 0), counts.get(JobStatus.RUNNING, 0)
        waiting = limits.max_queued_jobs if max_queued is None else max_queued
        if queued > waiting or queued + running > waiting + limits.max_running_jobs:
            raise TooManyJobs(
                JOB_SLOT_RETRY_AFTER,
                _("Your plan allows %(waiting)s waiting jobs and %(running)s running; wait for one to finish.")
                % {"waiting": waiting, "running": limits.max_running_jobs},
            )
    return entry


def _write_reservation(user: User, job: GenerationJob) -> CreditEntry | None:
    cost = job.credit_cost
    if cost <= 0:
        return None
    return write_ledger_entry(
        user,
        kind=EntryKind.RESERVATION,
        amount=-cost,
        reserved_change=cost,
        reason=reasons.job_reserved(job_id=job.pk, count=job.num_images),
        idempotency_key=f"job:{job.pk}:reservation",
        job_id=job.pk,
    )


def settle_job_credits(*, job: GenerationJob) -> list[CreditEntry]:
    """Charge a finished job for the images it produced and release the rest of its reservation.

    Exactly once: under the owner's row lock a job that already has a charge or a release is left as it is
    (and the unique (job, kind) constraint backs that up), so a second call, a duplicate task or the sweeper
    writes nothing.
    """
    with transaction.atomic():
        locked = lock_account(job.owner_id)
        # The job and what its ledger holds, in one query: its reservation's amount, and whether it is settled.
        entries = CreditEntry.objects.filter(job_id=OuterRef("pk"))
        job = GenerationJob.objects.annotate(
            reserved=Subquery(entries.filter(kind=EntryKind.RESERVATION).values("reserved_change")[:1]),
            settled=Exists(entries.filter(kind__in=[EntryKind.CHARGE, EntryKind.RELEASE])),
        ).get(pk=job.pk)
        if not job.is_final:
            raise ValueError(f"Job {job.pk} is {job.status}: only a finished job is settled.")
        if job.reserved is None or job.settled:
            return []
        reserved = job.reserved
        produced = job.num_images if job.status == JobStatus.SUCCEEDED else min(job.images_done, job.num_images)
        charge = reserved * produced // job.num_images
        release = reserved - charge
        written = []
        summary = reasons.job_settled(job_id=job.pk, status=job.status, produced=produced, count=job.num_images)
        if charge:
            written.append(
                write_ledger_entry(
                    locked,
                    kind=EntryKind.CHARGE,
                    amount=0,
                    reserved_change=-charge,
                    reason=summary,
                    idempotency_key=f"job:{job.pk}:charge",
                    job_id=job.pk,
                )
            )
        if release:
            written.append(
                write_ledger_entry(
                    locked,
                    kind=EntryKind.RELEASE,
                    amount=release,
                    reserved_change=-release,
                    reason=summary,
                    idempotency_key=f"job:{job.pk}:release",
                    job_id=job.pk,
                )
            )
    logger.info(
        "job credits settled",
        extra={"job_id": job.pk, "user_id": job.owner_id, "charged": charge, "released": release},
    )
    return written


def settle_finished_jobs(*, limit: int = 500) -> int:
    """Beat sweeper: finished jobs whose reservation was never settled (the process died in between)."""
    unsettled = (
        GenerationJob.objects.filter(status__in=FINAL_STATUSES, credit_entries__kind=EntryKind.RESERVATION)
        .exclude(credit_entries__kind__in=[EntryKind.CHARGE, EntryKind.RELEASE])
        .order_by("finished_at", "pk")[:limit]
    )
    return sum(bool(settle_job_credits(job=job)) for job in unsettled)


def cancel_waiting_jobs(*, user: User, **_: Any) -> int:
    """`accounts.signals.user_suspended`: the suspended user's queued jobs are canceled, their credits released."""
    from .services import cancel_job

    canceled = 0
    for job in GenerationJob.objects.filter(owner_id=user.pk, status=JobStatus.QUEUED).order_by("pk"):
        canceled += cancel_job(job=job).status == JobStatus.CANCELED
    return canceled
