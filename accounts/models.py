from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from .tiers import TierLimits, TierName

RATE_PATTERN = re.compile(r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$")


class UserManager(BaseUserManager):
    """Email is the login; usernames do not exist."""

    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        # Made by someone with shell access to the server: nobody to send a confirmation link to.
        extra.update(is_staff=True, is_superuser=True)
        extra.setdefault("email_verified_at", timezone.now())
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    username = None
    email = models.EmailField(_("email address"), unique=True)
    tier = models.CharField(_("tier"), max_length=32, choices=TierName, default=TierName.FREE)
    # Caches of the ledger, written only by accounts.services under a row lock.
    credit_balance = models.IntegerField(
        _("credit balance"), default=0, editable=False, help_text=_("Credits available to spend.")
    )
    credits_reserved = models.IntegerField(
        _("credits reserved"), default=0, editable=False, help_text=_("Credits held by unfinished jobs.")
    )
    # Self-service sign-ups get their plan's credits only once they follow the signed link mailed to them.
    email_verified_at = models.DateTimeField(
        _("email verified at"),
        null=True,
        blank=True,
        help_text=_("When the owner confirmed the address; empty: no credits are granted."),
    )
    # Raised (accounts.tokens.revoke_sessions_and_tokens) to sign the user out everywhere: it is part of the
    # session hash and of every JWT's credentials claim, so every session and token issued before stops working.
    token_version = models.PositiveIntegerField(_("token version"), default=0, editable=False)
    # The website's and e-mails' language; empty: the browser's Accept-Language decides.
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta(AbstractUser.Meta):
        constraints = [
            models.CheckConstraint(condition=Q(credit_balance__gte=0), name="user_credit_balance_not_negative"),
            models.CheckConstraint(condition=Q(credits_reserved__gte=0), name="user_credits_reserved_not_negative"),
            models.CheckConstraint(condition=Q(tier__in=TierName.values), name="user_tier_valid"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_email_verified(self) -> bool:
        return self.email_verified_at is not None

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        """Django's HMAC of the password hash, plus the token version once it was raised: a password change or a
        sign-out-everywhere ends every session (and, through accounts.tokens, every JWT). Version 0 keeps
        Django's own value, so sessions made before this existed stay valid."""
        value = self.password if not self.token_version else f"{self.password}:{self.token_version}"
        return salted_hmac(
            "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
            value,
            secret=secret,
            algorithm="sha256",
        ).hexdigest()


def validate_rate(value: str) -> None:
    if not RATE_PATTERN.match(value):
        raise ValidationError(_("Write a rate as <requests>/<period>, e.g. 20/min (periods: s, min, hour, day)."))


class Tier(models.Model):
    """A plan's limits, editable by staff. A missing row falls back to accounts.tiers.DEFAULT_TIERS."""

    name = models.CharField(_("name"), max_length=32, choices=TierName, primary_key=True)
    monthly_credits = models.PositiveIntegerField(
        _("monthly credits"), help_text=_("Credits granted at the start of every month.")
    )
    max_running_jobs = models.PositiveSmallIntegerField(_("max running jobs"), validators=[MinValueValidator(1)])
    max_queued_jobs = models.PositiveSmallIntegerField(
        _("max queued jobs"), validators=[MinValueValidator(1)], help_text=_("Jobs waiting for a worker, per user.")
    )
    submit_rate = models.CharField(
        _("submit rate"), max_length=32, validators=[validate_rate], help_text=_("API writes, e.g. 20/min.")
    )
    read_rate = models.CharField(
        _("read rate"), max_length=32, validators=[validate_rate], help_text=_("API reads, e.g. 600/min.")
    )
    max_images_per_job = models.PositiveSmallIntegerField(
        _("max images per job"), validators=[MinValueValidator(1), MaxValueValidator(4)]
    )
    max_side = models.PositiveIntegerField(
        _("max side"), validators=[MinValueValidator(256)], help_text=_("Largest width or height in pixels.")
    )
    max_source_pixels = models.PositiveIntegerField(
        _("max source pixels"),
        default=4 * 1024 * 1024,
        validators=[MinValueValidator(256 * 256)],
        help_text=_("Largest source image a job may start from, in pixels (width x height)."),
    )
    max_upscale_factor = models.PositiveSmallIntegerField(
        _("max upscale factor"), default=2, choices=[(2, _("2x")), (4, _("4x"))], help_text=_("Largest upscale factor.")
    )
    queue_weight = models.PositiveSmallIntegerField(
        _("queue weight"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(16)],
        help_text=_("Turns an owner on this plan gets in each round of a path's queue (free 1, pro 2, enterprise 4)."),
    )
    max_batch_jobs = models.PositiveSmallIntegerField(
        _("max batch jobs"),
        default=8,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text=_("Jobs one campaign batch may create (prompts x sizes)."),
    )
    max_private_styles = models.PositiveSmallIntegerField(
        _("max private styles"),
        default=0,
        validators=[MaxValueValidator(1000)],
        help_text=_("LoRA styles an owner may upload (0: the public library only)."),
    )
    max_brand_kits = models.PositiveSmallIntegerField(
        _("max brand kits"),
        default=1,
        validators=[MaxValueValidator(1000)],
        help_text=_("Brand kits an owner may keep."),
    )

    class Meta:
        ordering = ("monthly_credits",)
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")

    def __str__(self) -> str:
        return self.get_name_display()

    def limits(self) -> TierLimits:
        return TierLimits(
            name=self.name,
            monthly_credits=self.monthly_credits,
            max_running_jobs=self.max_running_jobs,
            max_queued_jobs=self.max_queued_jobs,
            submit_rate=self.submit_rate,
            read_rate=self.read_rate,
            max_images_per_job=self.max_images_per_job,
            max_side=self.max_side,
            max_source_pixels=self.max_source_pixels,
            max_upscale_factor=self.max_upscale_factor,
            queue_weight=self.queue_weight,
            max_batch_jobs=self.max_batch_jobs,
            max_private_styles=self.max_private_styles,
            max_brand_kits=self.max_brand_kits,
        )


class EntryKind(models.TextChoices):
    GRANT = "grant", _("Grant")
    RESERVATION = "reservation", _("Reservation")
    CHARGE = "charge", _("Charge")
    RELEASE = "release", _("Release")
    REFUND = "refund", _("Refund")


class GrantKind(models.TextChoices):
    """The entries staff may write by hand."""

    GRANT = EntryKind.GRANT.value, _("Grant")
    REFUND = EntryKind.REFUND.value, _("Refund")


JOB_ENTRY_KINDS = (EntryKind.RESERVATION, EntryKind.CHARGE, EntryKind.RELEASE)


class CreditEntry(models.Model):
    """One movement of credits. `amount` changes the available balance, `reserved_change` the reserved credits.

    grant/refund: +available. reservation: available -> reserved. charge: reserved -> spent.
    release: reserved -> available. So sum(amount) == user.credit_balance and
    sum(reserved_change) == user.credits_reserved, always.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="credit_entries", verbose_name=_("user")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=EntryKind)
    amount = models.IntegerField(_("amount"))
    reserved_change = models.IntegerField(_("reserved change"), default=0)
    reason = models.CharField(_("reason"), max_length=255)
    job = models.ForeignKey(
        "generation.GenerationJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="credit_entries",
        verbose_name=_("job"),
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("credit entry")
        verbose_name_plural = _("credit entries")
        indexes = [models.Index(fields=["user", "-created_at"], name="credit_entry_user_created")]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "kind"],
                condition=Q(job__isnull=False, kind__in=JOB_ENTRY_KINDS),
                name="credit_entry_one_per_job_and_kind",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=[EntryKind.GRANT, EntryKind.REFUND], amount__gt=0, reserved_change=0)
                    | Q(kind=EntryKind.RESERVATION, amount__lt=0, reserved_change=-F("amount"))
                    | Q(kind=EntryKind.CHARGE, amount=0, reserved_change__lt=0)
                    | Q(kind=EntryKind.RELEASE, amount__gt=0, reserved_change=-F("amount"))
                ),
                name="credit_entry_amounts_match_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount:+d} for {self.user_id}"

    @property
    def credits(self) -> int:
        """The size of the movement, whatever its direction."""
        return abs(self.amount) or abs(self.reserved_change)

    @property
    def description(self) -> str:
        """The reason in the reader's language (accounts.reasons); the stored reason stays the record."""
        from .reasons import describe

        return describe(self.reason)


class ApiKey(models.Model):
    """A long-lived personal API key. Only its SHA-256 is stored; the secret is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, help_text=_("The key's first characters, to recognise it."))
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotencyRecord(models.Model):
    """The first successful response to a POST sent with an Idempotency-Key, replayed for retries."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    key = models.CharField(_("key"), max_length=255)
    request_hash = models.CharField(_("request hash"), max_length=64)
    # Empty only inside the transaction that runs the first request; nobody else ever sees that.
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True)
    response_body = models.TextField(
        _("response body"), blank=True, help_text=_("The JSON body, byte for byte as first sent.")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_record_user_key")]

    def __str__(self) -> str:
        return f"{self.key} ({self.user_id})"
