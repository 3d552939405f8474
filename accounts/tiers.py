"""What each plan allows. Plain data: the Tier rows in the database override these defaults."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class TierName(models.TextChoices):
    FREE = "free", _("Free")
    PRO = "pro", _("Pro")
    ENTERPRISE = "enterprise", _("Enterprise")


@dataclass(frozen=True)
class TierLimits:
    name: str
    monthly_credits: int
    max_running_jobs: int
    max_queued_jobs: int
    submit_rate: str  # DRF rate: "20/min"
    read_rate: str
    max_images_per_job: int
    max_side: int
    max_source_pixels: int  # the largest source image (width x height) a job may start from
    max_upscale_factor: int  # 2, or 4
    queue_weight: int  # turns an owner of this plan gets in each round of a path's fair queue
    max_batch_jobs: int  # jobs one campaign batch may create (prompts x sizes)
    max_private_styles: int  # LoRA styles an owner may upload (0: the public library only)
    max_brand_kits: int  # brand kits an owner may keep


DEFAULT_TIERS: dict[str, TierLimits] = {
    TierName.FREE: TierLimits(
        name=TierName.FREE,
        monthly_credits=100,
        max_running_jobs=1,
        max_queued_jobs=5,
        submit_rate="20/min",
        read_rate="1200/min",
        max_images_per_job=4,
        max_side=1536,
        max_source_pixels=4 * 1024 * 1024,
        max_upscale_factor=2,
        queue_weight=1,
        max_batch_jobs=8,
        max_private_styles=0,
        max_brand_kits=1,
    ),
    TierName.PRO: TierLimits(
        name=TierName.PRO,
        monthly_credits=2000,
        max_running_jobs=4,
        max_queued_jobs=25,
        submit_rate="120/min",
        read_rate="6000/min",
        max_images_per_job=4,
        max_side=2048,
        max_source_pixels=16 * 1024 * 1024,
        max_upscale_factor=4,
        queue_weight=2,
        max_batch_jobs=40,
        max_private_styles=10,
        max_brand_kits=10,
    ),
    TierName.ENTERPRISE: TierLimits(
        name=TierName.ENTERPRISE,
        monthly_credits=20000,
        max_running_jobs=16,
        max_queued_jobs=100,
        submit_rate="600/min",
        read_rate="30000/min",
        max_images_per_job=4,
        max_side=2048,
        max_source_pixels=16 * 1024 * 1024,
        max_upscale_factor=4,
        queue_weight=4,
        max_batch_jobs=200,
        max_private_styles=100,
        max_brand_kits=50,
    ),
}
