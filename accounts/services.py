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
from django.utils import timezone

from .exceptions import InsufficientCredits
from .models import ApiKey, CreditEntry, EntryKind, User
from .selectors import tier_limits
from .signals import user_suspended

logger = logging.getLogger(__name__)

ADMIN_EMAIL = "admin@zimage.local"
API_KEY_PREFIX = "zk_"
MAX_API_KEYS = 20
# A slot frees when a job finishes; most take seconds, so ask the client to look again soon.


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


def lock_account(user_id: int) -> User:
    """The user's row, locked for a ledger write in the caller's transaction."""
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


def write_ledger_entry(
    user: User,
    *,
    kind: str,
    amount: int,
    reserved_change: int = 0,
    reason: str,
    idempotency_key: str,
    job_id: int | None = None,
    created_by: User | None = None,
) -> CreditEntry:
    """Move the cached balances and append the ledger row that explains it, in the caller's transaction.

    The one write of the ledger: grants here, and a job's reservation, charge and release (generation.credits).
    Raises InsufficientCredits when the available or reserved balance would go negative.
    """
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
        job_id=job_id,
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
        locked = lock_account(user.pk)
        existing = CreditEntry.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.user_id != user.pk or existing.amount != amount:
                raise ValidationError({"idempotency_key": "This key was already used for a different grant."})
            _copy_balances(locked, user)
            return existing
        entry = write_ledger_entry(
            locked,
            kind=kind,
            amount=amount,
            reason=reason.strip(),
            idempotency_key=idempotency_key,
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


# --- staff: suspension ----------------------------------------------------------------------


def suspend_user(*, user: User) -> int:
    """Lock an account: sessions, tokens and API keys stop working (is_active), and the jobs still waiting are
    canceled with their credits released (generation answers `user_suspended`). Returns how many were canceled;
    safe to repeat."""
    User.objects.filter(pk=user.pk).update(is_active=False)
    user.is_active = False
    canceled = sum(int(answer or 0) for _, answer in user_suspended.send(sender=User, user=user))
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
