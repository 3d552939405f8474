"""Writes for accounts: sign-up and e-mail verification, the credits ledger, plan limits at submit, API keys.

Every change of a balance happens inside `transaction.atomic()` with the user's row locked (by the
conditional UPDATE that moves the cached balance, or `SELECT ... FOR NO KEY UPDATE` first where a check must
come before the write), and writes one ledger row with a unique idempotency key for exactly that amount:
the ledger and the cache cannot drift, a balance cannot go negative, and a retried call is a no-op.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from . import reasons
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


# --- sign-up and e-mail verification ------------------------------------------------------------

VERIFICATION_SALT = "accounts.verify-email"


def sign_up(*, email: str, password: str, site_url: str) -> User | None:
    """Self-service sign-up that answers the same whether or not the address is registered.

    A new address gets an unverified account and a confirmation link; its plan's credits come when the link is
    followed (verify_email). A registered address gets a note to its owner instead, so sign-up tells nobody who
    has an account. Returns the new user, or None when the address was taken. `site_url`: where links point.
    """
    email = User.objects.normalize_email(email.strip()).lower()
    try:
        validate_password(password, user=User(email=email))
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from error
    existing = User.objects.filter(email__iexact=email).first()
    if existing is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(email=email, password=password)
        except IntegrityError:  # the same email signed up concurrently
            existing = User.objects.get(email__iexact=email)
        else:
            send_verification_email(user=user, site_url=site_url)
            logger.info("user signed up", extra={"user_id": user.pk})
            return user
    make_password(password)  # the hashing a new account costs, so the answer's timing does not tell either
    _send(
        existing,
        "accounts/signup_existing_subject.txt",
        "accounts/signup_existing_email.txt",
        {
            "login_url": site_url + reverse("accounts:login"),
            "reset_url": site_url + reverse("accounts:password_reset"),
            "verify_url": None if existing.is_email_verified else verification_url(user=existing, site_url=site_url),
        },
    )
    logger.info("sign-up for a registered address", extra={"user_id": existing.pk})
    return None


def verification_url(*, user: User, site_url: str) -> str:
    token = signing.dumps([user.pk, user.email], salt=VERIFICATION_SALT)
    return site_url + reverse("accounts:verify-email", kwargs={"token": token})


def send_verification_email(*, user: User, site_url: str) -> None:
    """The signed confirmation link, through EMAIL_BACKEND (`make run`: printed on the console)."""
    _send(
        user,
        "accounts/verify_email_subject.txt",
        "accounts/verify_email.txt",
        {
            "verify_url": verification_url(user=user, site_url=site_url),
            "credits": tier_limits(user.tier).monthly_credits,
        },
    )


def verify_email(*, token: str) -> User:
    """Confirm the address a link was signed for and grant this month's credits (once: the grant is idempotent)."""
    invalid = ValidationError(
        {"token": _("This confirmation link is invalid or has expired. Ask for a new one on your account page.")}
    )
    try:
        # As long as a password-reset link (PASSWORD_RESET_TIMEOUT, 3 days); the account page sends a new one.
        user_id, email = signing.loads(token, salt=VERIFICATION_SALT, max_age=settings.PASSWORD_RESET_TIMEOUT)
    except (signing.BadSignature, TypeError, ValueError):
        raise invalid from None
    user = User.objects.filter(pk=user_id, email__iexact=email, is_active=True).first()
    if user is None:
        raise invalid
    with transaction.atomic():
        User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(email_verified_at=timezone.now())
        user.refresh_from_db(fields=["email_verified_at"])
        grant_monthly_credit(user=user)
    logger.info("email verified", extra={"user_id": user.pk})
    return user


def _send(user: User, subject_template: str, body_template: str, context: dict) -> None:
    context = {"user": user, **context}
    subject = " ".join(render_to_string(subject_template, context).split())
    send_mail(subject, render_to_string(body_template, context), None, [user.email])


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
        row: tuple[int, int] | None = cursor.fetchone()
        return row


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
        raise ValidationError({"amount": _("Grant a positive whole number of credits.")})
    if not reason.strip():
        raise ValidationError({"reason": _("Say why these credits are granted.")})
    with transaction.atomic():
        locked = lock_account(user.pk)
        existing = CreditEntry.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.user_id != user.pk or existing.amount != amount:
                raise ValidationError({"idempotency_key": _("This key was already used for a different grant.")})
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


def month_key(when: datetime | None = None) -> str:
    return (when or timezone.now()).strftime("%Y-%m")


def grant_monthly_credit(*, user: User, month: str | None = None) -> CreditEntry | None:
    """The user's plan grant for `month` (default: this one), at most once per user and month; none before the
    user confirmed their e-mail address (free credits for throwaway addresses are what sign-up abuse is after)."""
    month = month or month_key()
    amount = tier_limits(user.tier).monthly_credits
    if amount <= 0 or not user.is_email_verified:
        return None
    return grant_credits(
        user=user,
        amount=amount,
        reason=reasons.monthly_grant(tier=user.tier, month=month),
        idempotency_key=f"monthly:{user.pk}:{month}",
    )


def grant_monthly_credits(*, month: str | None = None) -> int:
    """Beat task body: every active user without this month's grant gets it. Safe to run any number of times."""
    month = month or month_key()
    granted = CreditEntry.objects.filter(
        kind=EntryKind.GRANT, idempotency_key__startswith="monthly:", idempotency_key__endswith=f":{month}"
    ).values("user_id")
    count = 0
    users = User.objects.filter(is_active=True, email_verified_at__isnull=False).exclude(pk__in=granted)
    for user in users.order_by("pk").iterator():
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


def set_language(*, user: User, language: str) -> User:
    """Save the website's and e-mails' language for this user ("" lets the browser decide again)."""
    user.language = language
    user.clean_fields(exclude=[field.name for field in User._meta.fields if field.name != "language"])
    User.objects.filter(pk=user.pk).update(language=language)
    return user


# --- API keys --------------------------------------------------------------------------------


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def create_api_key(*, user: User, name: str) -> tuple[ApiKey, str]:
    """A new key; the secret is returned here only, and only its hash is kept."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Name the key so you can recognise it later.")})
    if ApiKey.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_API_KEYS:
        raise ValidationError(
            {"name": _("You can have at most %(count)s active keys; revoke one first.") % {"count": MAX_API_KEYS}}
        )
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
