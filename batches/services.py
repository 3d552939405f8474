"""Writes for campaign batches: create one (all its jobs, all its credits, in one transaction) and cancel one."""

from __future__ import annotations

import itertools
import logging
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils.translation import gettext as _

from accounts.exceptions import InsufficientCredits, TooManyJobs
from accounts.selectors import tier_limits
from accounts.services import lock_account
from generation.credits import JOB_SLOT_RETRY_AFTER, job_price
from generation.engine.job_input import JobMode
from generation.engine.models_catalog import SIZE_PRESETS
from generation.models import GenerationJob, JobStatus
from generation.services import cancel_job, submit_job

from .models import Batch, BatchJob

if TYPE_CHECKING:
    from accounts.models import User
    from brands.models import BrandKit
    from templates_app.models import Template

logger = logging.getLogger(__name__)

# What submit_job names a field of one job, and what the batch request calls it.
_BATCH_FIELD = {"size_preset": "size_presets", "width": "size_presets", "height": "size_presets"}


def batch_waiting_limit(user: User) -> int:
    """How many of the owner's jobs may wait while a batch is admitted: the plan's batch size when that is larger
    than its waiting-jobs limit (free: 8 against 5), so a batch the plan allows fits when nothing else waits."""
    limits = tier_limits(user.tier)
    return max(limits.max_queued_jobs, limits.max_batch_jobs)


def batch_create(
    *,
    user: User,
    prompts: list[str],
    size_presets: list[str],
    template: Template | None = None,
    num_images: int = 1,
    brand_kit: BrandKit | None = None,
    **job_fields: Any,
) -> Batch:
    """A job per prompt x size preset, every other field shared; all or nothing.

    Checked before anything is written: the plan's batch size (400 on prompts/size_presets), room in the owner's
    queue (429; see batch_waiting_limit) and the whole batch's price against the available credits (402 with the
    total), under the owner's row lock so two batches cannot both pass. Each job then goes through submit_job
    (its own checks and reservation) in the same transaction; a job refused rolls back the batch and every job
    before it, and each job is sent to its queue only when the transaction commits.
    """
    limits = tier_limits(user.tier)
    count = len(prompts) * len(size_presets)
    if count > limits.max_batch_jobs:
        message = _(
            "Your %(plan)s plan allows %(limit)s jobs per batch; %(prompts)s prompt(s) x %(sizes)s size(s) "
            "make %(count)s."
        ) % {
            "plan": user.get_tier_display(),
            "limit": limits.max_batch_jobs,
            "prompts": len(prompts),
            "sizes": len(size_presets),
            "count": count,
        }
        fields = ("prompts", "size_presets") if len(prompts) > 1 else ("size_presets",)
        raise ValidationError(dict.fromkeys(fields, message))
    unknown = [preset for preset in size_presets if preset not in SIZE_PRESETS]
    if unknown:
        raise ValidationError({"size_presets": _("Choose from: %(presets)s.") % {"presets": ", ".join(SIZE_PRESETS)}})
    per_image = template.credit_cost if template is not None else 1
    total = count * job_price(mode=JobMode.TEXT, per_image=per_image, num_images=num_images, width=0, height=0)
    waiting_limit = batch_waiting_limit(user)
    with transaction.atomic():
        locked = lock_account(user.pk)
        if locked.credit_balance < total:
            raise InsufficientCredits(balance=locked.credit_balance, cost=total)
        counts = dict(
            GenerationJob.objects.filter(owner_id=user.pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
            .order_by()
            .values_list("status")
            .annotate(n=Count("id"))
        )
        waiting, running = counts.get(JobStatus.QUEUED, 0), counts.get(JobStatus.RUNNING, 0)
        if waiting + count > waiting_limit or waiting + running + count > waiting_limit + limits.max_running_jobs:
            raise TooManyJobs(
                JOB_SLOT_RETRY_AFTER,
                _(
                    "A batch may fill your queue up to %(limit)s jobs; %(waiting)s are waiting and this batch adds "
                    "%(count)s. Wait for some to finish, or send fewer."
                )
                % {"limit": waiting_limit, "waiting": waiting, "count": count},
            )
        batch = Batch.objects.create(
            owner=user,
            production_path="",
            template=template,
            parameters={
                "num_images": num_images,
                **{k: v for k, v in job_fields.items() if v is not None},
                **({"brand_kit": brand_kit.pk} if brand_kit is not None else {}),
            },
            total_cost=total,
        )
        for position, (prompt, size_preset) in enumerate(itertools.product(prompts, size_presets)):
            job = _submit_one(
                user=user,
                prompt=prompt,
                size_preset=size_preset,
                template=template,
                num_images=num_images,
                max_queued=waiting_limit,
                brand_kit=brand_kit,
                **job_fields,
            )
            BatchJob.objects.create(batch=batch, job=job, position=position, prompt=prompt, size_preset=size_preset)
        batch.production_path = job.production_path
        batch.save(update_fields=["production_path"])
    logger.info("batch created", extra={"user_id": user.pk, "batch_id": batch.pk, "jobs": count, "credits": total})
    return batch


def _submit_one(*, size_preset: str, **fields: Any) -> GenerationJob:
    """submit_job, its field errors named as the batch request names them (a size's error says which size)."""
    try:
        return submit_job(size_preset=size_preset, **fields)
    except ValidationError as error:
        if not hasattr(error, "error_dict"):
            raise
        renamed: dict[str, list[str]] = {}
        for field, messages in error.message_dict.items():
            if field in _BATCH_FIELD:
                renamed.setdefault(_BATCH_FIELD[field], []).extend(f"{size_preset}: {m}" for m in messages)
            else:
                renamed.setdefault(field, []).extend(messages)
        raise ValidationError(renamed) from error


def batch_cancel(*, batch: Batch) -> Batch:
    """Cancel every job of the batch that has not finished (cancel_job: queued never run, running stop at their
    next step, unproduced images' credits released); finished ones are left as they are."""
    for entry in batch.entries.select_related("job").order_by("position"):
        if not entry.job.is_final:
            cancel_job(job=entry.job)
    return batch
