"""Writes for accounts: sign-up, the credits ledger, plan limits at submit, API keys.

Every change of a balance happens inside `transaction.atomic()` with the user's row locked (by the
conditional UPDATE that moves the cached balance, or `SELECT ... FOR NO KEY UPDATE` first where a check must
come before the write), and writes one ledger row with a unique idempotency key for exactly that amount:
the ledger and the cache cannot drift, a balance cannot go negative, and a retried call is a no-op.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from generation.models import FINAL_STATUSES, GenerationJob, JobStatus

from .exceptions import InsufficientCredits, TooManyJobs
from .models import ApiKey, CreditEntry, EntryKind, User
from .selectors import tier_limits
from .tiers import TierLimits

logger = logging.getLogger(__name__)

ADMIN_EMAIL = "admin@zimage.local"
API_KEY_PREFIX = "zk_"
MAX_API_KEYS = 20
# A slot frees when a job finishes; most take seconds, so ask the client to look again soon.
JOB_SLOT_RETRY_AFTER = 15


def ensure_admin(email: str = ADMIN_EMAIL) -> str | None:
    """Create the first superuser with a random password; returns it once, None if one exists."""
    if User.objects.filter(is_superuser=True).exists():
        return None
    password = secrets.token_urlsafe(12)
    User.objects.create_superuser(email=email, password=password)
    return password


# --- sign-up ---------------------------------------------------------------------------------


def sign_up(*, email: str, password: str) -> User:
    """A new free account with this month's grant. Password validators apply."""
    email = User.objects.normalize_email(email.strip()).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": "An account with this email address already exists."})
    try:
        validate_password(password, user=User(email=email))
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from error
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password)
            grant_monthly_credit(user=user)
    except IntegrityError as error:  # the same email signed up concurrently
        raise ValidationError({"email": "An account with this email address already exists."}) from error
    logger.info("user signed up", extra={"user_id": user.pk})
    return user


# --- the ledger ------------------------------------------------------------------------------


def _locked_user(user_id: int) -> User:
    # NO KEY UPDATE: does not conflict with the KEY SHARE lock that inserting a job (FK to user) takes.
    return User.objects.select_for_update(no_key=True).get(pk=user_id)


def _move(user_id: int, amount: int, reserved_change: int) -> tuple[int, int] | None:
    """Add to the cached balances in one statement, unless one would go negative (then None).

    The UPDATE locks the row until the transaction ends, like SELECT ... FOR NO KEY UPDATE would.
    """
    table = connection.ops.quote_name(User._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET credit_balance = credit_balance + %s, credits_reserved = credits_reserved + %s "  # noqa: S608 (table name from the model)
            "WHERE id = %s AND credit_balance + %s >= 0 AND credits_reserved + %s >= 0 "
            "RETURNING credit_balance, credits_reserved",
            [amount, reserved_change, user_id, amount, reserved_change],
        )
        return cursor.fetchone()


def _write_entry(
    user: User,
    *,
    kind: str,
    amount: int,
    reserved_change: int = 0,
    reason: str,
    idempotency_key: str,
    job: GenerationJob | None = None,
    created_by: User | None = None,
) -> CreditEntry:
    """Move the cached balances and append the ledger row that explains it, in the caller's transaction."""
    balances = _move(user.pk, amount, reserved_change)
    if balances is None:
        current = User.objects.filter(pk=user.pk).values_list("credit_balance", flat=True).get()
        raise InsufficientCredits(balance=current, cost=-amount)
    user.credit_balance, user.credits_reserved = balances
    return CreditEntry.objects.create(
        user=user,
        kind=kind,
        amount=amount,
        reserved_change=reserved_change,
        reason=reason[:255],
        idempotency_key=idempotency_key,
        job=job,
        created_by=created_by,
    )


def _copy_balances(source: User, target: User) -> None:
    target.credit_balance = source.credit_balance
    target.credits_reserved = source.credits_reserved


def grant_credits(
    *,
    user: User,
    amount: int,
    reason: str,
    idempotency_key: str,
    kind: str = EntryKind.GRANT,
    job: GenerationJob | None = None,
    created_by: User | None = None,
) -> CreditEntry:
    """Add credits (a grant, or a refund by staff). The same idempotency key grants once."""
    if kind not in (EntryKind.GRANT, EntryKind.REFUND):
        raise ValueError(f"grant_credits writes grants and refunds, not {kind}.")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValidationError({"amount": "Grant a positive whole number of credits."})
    if not reason.strip():
        raise ValidationError({"reason": "Say why these credits are granted."})
    with transaction.atomic():
        locked = _locked_user(user.pk)
        existing = CreditEntry.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.user_id != user.pk or existing.amount != amount:
                raise ValidationError({"idempotency_key": "This key was already used for a different grant."})
            _copy_balances(locked, user)
            return existing
        entry = _write_entry(
            locked,
            kind=kind,
            amount=amount,
            reason=reason.strip(),
            idempotency_key=idempotency_key,
            job=job,
            created_by=created_by,
        )
    _copy_balances(locked, user)
    logger.info("credits granted", extra={"user_id": user.pk, "amount": amount, "kind": kind, "reason": reason})
    return entry


def month_key(when=None) -> str:
    return (when or timezone.now()).strftime("%Y-%m")


def grant_monthly_credit(*, user: User, month: str | None = None) -> CreditEntry | None:
    """The user's plan grant for `month` (default: this one), at most once per user and month."""
    month = month or month_key()
    amount = tier_limits(user.tier).monthly_credits
    if amount <= 0:
        return None
    return grant_credits(
        user=user,
        amount=amount,
        reason=f"Monthly {user.get_tier_display()} credits for {month}",
        idempotency_key=f"monthly:{user.pk}:{month}",
    )


def grant_monthly_credits(*, month: str | None = None) -> int:
    """Beat task body: every active user without this month's grant gets it. Safe to run any number of times."""
    month = month or month_key()
    granted = CreditEntry.objects.filter(
        kind=EntryKind.GRANT, idempotency_key__startswith="monthly:", idempotency_key__endswith=f":{month}"
    ).values("user_id")
    count = 0
    for user in User.objects.filter(is_active=True).exclude(pk__in=granted).order_by("pk").iterator():
        if grant_monthly_credit(user=user, month=month) is not None:
            count += 1
    return count


# --- jobs: admission, reservation, settlement -------------------------------------------------


def check_job_size(*, user: User, job: GenerationJob, limits: TierLimits | None = None) -> None:
    """The plan's per-job limits: images per job and the largest side."""
    limits = limits or tier_limits(user.tier)
    plan = user.get_tier_display()
    if job.num_images > limits.max_images_per_job:
        raise ValidationError(
            {"num_images": f"The {plan} plan allows at most {limits.max_images_per_job} images per job."}
        )
    for field in ("width", "height"):
        if getattr(job, field) > limits.max_side:
            raise ValidationError({field: f"The {plan} plan allows images up to {limits.max_side} px a side."})


def admit_job(*, user: User, job: GenerationJob) -> CreditEntry | None:
    """Called by submit_job inside its transaction, right after creating the job: enforce the plan, reserve.

    Raises ValidationError, InsufficientCredits or TooManyJobs; the caller's transaction then rolls the job
    back with everything else (hence no savepoint of its own).
    """
    limits = tier_limits(user.tier)
    check_job_size(user=user, job=job, limits=limits)
    with transaction.atomic(savepoint=False):
        # The reservation's UPDATE locks the user's row, so concurrent submits of one user reach the count
        # below one after the other. The job was created in this transaction: it has no reservation yet.
        entry = _write_reservation(user, job)
        if entry is None:
            _locked_user(user.pk)
        counts = dict(
            GenerationJob.objects.filter(owner_id=user.pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
            .order_by()
            .values_list("status")
            .annotate(n=Count("id"))
        )
        queued, running = counts.get(JobStatus.QUEUED, 0), counts.get(JobStatus.RUNNING, 0)
        if queued > limits.max_queued_jobs or queued + running > limits.max_queued_jobs + limits.max_running_jobs:
            raise TooManyJobs(
                JOB_SLOT_RETRY_AFTER,
                f"Your plan allows {limits.max_queued_jobs} waiting jobs and {limits.max_running_jobs} running; "
                "wait for one to finish.",
            )
    return entry


def reserve_credits(*, user: User, job: GenerationJob) -> CreditEntry | None:
    """Move the job's cost from available to reserved, once per job. Raises InsufficientCredits."""
    try:
        with transaction.atomic():
            return _reserve(user, job)
    except IntegrityError:
        # The same job reserved at the same moment elsewhere: the unique (job, kind) kept one.
        existing = CreditEntry.objects.filter(job=job, kind=EntryKind.RESERVATION).first()
        if existing is None:
            raise
        user.refresh_from_db(fields=["credit_balance", "credits_reserved"])
        return existing


def _reserve(user: User, job: GenerationJob) -> CreditEntry | None:
    """The job's reservation: the one already written (an earlier or concurrent call), else a new one."""
    existing = None
    if job.credit_cost > 0:  # a free job has none to look for
        existing = CreditEntry.objects.filter(job=job, kind=EntryKind.RESERVATION).first()
    return existing if existing is not None else _write_reservation(user, job)


def _write_reservation(user: User, job: GenerationJob) -> CreditEntry | None:
    cost = job.credit_cost
    if cost <= 0:
        return None
    return _write_entry(
        user,
        kind=EntryKind.RESERVATION,
        amount=-cost,
        reserved_change=cost,
        reason=f"Job {job.pk}: {job.num_images} image(s) reserved",
        idempotency_key=f"job:{job.pk}:reservation",
        job=job,
    )


def settle_job_credits(*, job: GenerationJob) -> list[CreditEntry]:
    """Charge a finished job for the images it produced and release the rest of its reservation.

    Exactly once: under the owner's row lock a job that already has a charge or a release is left as it is
    (and the unique (job, kind) constraint backs that up), so a second call, a duplicate task or the sweeper
    writes nothing.
    """
    with transaction.atomic():
        locked = _locked_user(job.owner_id)
        job = GenerationJob.objects.get(pk=job.pk)
        if not job.is_final:
            raise ValueError(f"Job {job.pk} is {job.status}: only a finished job is settled.")
        entries = {entry.kind: entry for entry in CreditEntry.objects.filter(job=job)}
        reservation = entries.get(EntryKind.RESERVATION)
        if reservation is None or EntryKind.CHARGE in entries or EntryKind.RELEASE in entries:
            return []
        reserved = reservation.reserved_change
        produced = job.num_images if job.status == JobStatus.SUCCEEDED else min(job.images_done, job.num_images)
        charge = reserved * produced // job.num_images
        release = reserved - charge
        written = []
        summary = f"Job {job.pk} {job.status}: {produced} of {job.num_images} image(s) produced"
        if charge:
            written.append(
                _write_entry(
                    locked,
                    kind=EntryKind.CHARGE,
                    amount=0,
                    reserved_change=-charge,
                    reason=summary,
                    idempotency_key=f"job:{job.pk}:charge",
                    job=job,
                )
            )
        if release:
            written.append(
                _write_entry(
                    locked,
                    kind=EntryKind.RELEASE,
                    amount=release,
                    reserved_change=-release,
                    reason=summary,
                    idempotency_key=f"job:{job.pk}:release",
                    job=job,
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


# --- staff: suspension ----------------------------------------------------------------------


def suspend_user(*, user: User) -> int:
    """Lock an account: sessions, tokens and API keys stop working (is_active), and the jobs still waiting are
    canceled with their credits released. Returns how many jobs were canceled; safe to repeat."""
    from generation.services import cancel_job  # generation.services imports this module

    User.objects.filter(pk=user.pk).update(is_active=False)
    user.is_active = False
    canceled = 0
    for job in GenerationJob.objects.filter(owner_id=user.pk, status=JobStatus.QUEUED).order_by("pk"):
        canceled += cancel_job(job=job).status == JobStatus.CANCELED
    logger.warning("user suspended", extra={"user_id": user.pk, "jobs_canceled": canceled})
    return canceled


def reactivate_user(*, user: User) -> User:
    User.objects.filter(pk=user.pk).update(is_active=True)
    user.is_active = True
    logger.warning("user reactivated", extra={"user_id": user.pk})
    return user


# --- API keys --------------------------------------------------------------------------------


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def create_api_key(*, user: User, name: str) -> tuple[ApiKey, str]:
    """A new key; the secret is returned here only, and only its hash is kept."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Name the key so you can recognise it later."})
    if ApiKey.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_API_KEYS:
        raise ValidationError({"name": f"You can have at most {MAX_API_KEYS} active keys; revoke one first."})
    raw_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(user=user, name=name[:100], prefix=raw_key[:11], key_hash=hash_api_key(raw_key))
    logger.info("api key created", extra={"user_id": user.pk, "api_key_id": key.pk})
    return key, raw_key


def revoke_api_key(*, key: ApiKey) -> ApiKey:
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    key.refresh_from_db(fields=["revoked_at"])
    logger.info("api key revoked", extra={"user_id": key.user_id, "api_key_id": key.pk})
    return key


def record_api_key_use(*, key: ApiKey, every: timedelta = timedelta(minutes=1)) -> None:
    """Last-used time, written at most once a minute per key so every request is not a write."""
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= every:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
