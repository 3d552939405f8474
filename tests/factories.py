"""The one place tests build rows: users, templates, jobs, images and stories, made as the services make them."""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta

import factory
from django.utils import timezone
from PIL import Image

from accounts.models import User
from gallery.models import GeneratedImage, SourceImage
from gallery.services import store_generated_image, store_source_image
from generation.engine.diffusion import DiffusionRequest
from generation.engine.models_catalog import Z_IMAGE_TURBO
from generation.engine.paths import get_path
from generation.models import GenerationJob, JobStatus
from scenes.models import Chapter, Character, Scene, Story
from templates_app.models import Template

PASSWORD = "correct horse battery staple"  # every UserFactory user's


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    email_verified_at = factory.LazyFunction(timezone.now)  # a confirmed address; `email_verified_at=None`: not yet
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(self, create, extracted, **kwargs):
        if create:
            self.save()

    @factory.post_generation
    def credits(self, create, extracted, **kwargs):
        """Users start with 1000 credits (a ledger grant) so tests can submit jobs; `credits=0` for none."""
        amount = 1000 if extracted is None else extracted
        if create and amount:
            from accounts.services import grant_credits

            grant_credits(user=self, amount=amount, reason="Test credits", idempotency_key=f"factory:{uuid.uuid4()}")


class TemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Template

    name = factory.Sequence(lambda n: f"Template {n}")
    slug = factory.Sequence(lambda n: f"template-{n}")
    production_path = "fashion"
    credit_cost = 1
    config = factory.LazyFunction(
        lambda: {
            "model": "Tongyi-MAI/Z-Image-Turbo",
            "steps": 4,
            "cfg_scale": 0.0,
            "width": 256,
            "height": 256,
            "pipeline": [
                {"node_type": "prompt_enhancement", "parameters": {"style_prompts": ["studio light"]}},
                {"node_type": "generation", "parameters": {"negative_prompt": "blurry"}},
                {"node_type": "save_image", "parameters": {}},
            ],
        }
    )


# The small fashion request tests submit by default (the `submit` and `submit_api` fixtures): fast on the tiny
# pipeline, inside every plan's limits. GenerationJobFactory's defaults are the job it makes.
JOB_REQUEST = {"prompt": "a linen summer dress", "production_path": "fashion", "width": 256, "height": 256, "steps": 2}
# A template config on the tiny SDXL (its own pipeline class): a character's reference may go through IP-Adapter.
SDXL_TEMPLATE_CONFIG = {
    "model": "stabilityai/stable-diffusion-xl-base-1.0",
    "scheduler": "EulerDiscrete",
    "steps": 3,
    "cfg_scale": 5.0,
    "width": 256,
    "height": 256,
    "pipeline": [
        {"node_type": "generation", "parameters": {"negative_prompt": "blurry"}},
        {"node_type": "save_image", "parameters": {}},
    ],
}


class GenerationJobFactory(factory.django.DjangoModelFactory):
    """A job as `generation.services.submit_job` stores it for a small fashion request (the `submit` fixture's
    defaults), without its validation or plan checks: for rows in a given state. Traits: `running`,
    `succeeded`, `failed`, `canceled` (queued by default); `with_reservation=True` reserves its credits."""

    class Meta:
        model = GenerationJob
        skip_postgeneration_save = True

    owner = factory.SubFactory(UserFactory)
    template = None
    production_path = "fashion"
    prompt = "a linen summer dress"
    model = "Tongyi-MAI/Z-Image-Turbo"
    scheduler = "FlowMatchEulerDiscrete"
    steps = 2
    guidance = 0.0
    width = 256
    height = 256
    num_images = 1
    seed = 1
    workflow = factory.LazyAttribute(
        lambda job: get_path(job.production_path).build_pipeline(
            job.template.config.get("pipeline", []) if job.template else []
        )
    )
    credit_cost = factory.LazyAttribute(lambda job: (job.template.credit_cost if job.template else 1) * job.num_images)
    progress_total = factory.LazyAttribute(lambda job: job.steps * job.num_images)
    status = JobStatus.QUEUED

    class Params:
        running = factory.Trait(
            status=JobStatus.RUNNING,
            worker_id="test-worker:1",
            deliveries=1,
            started_at=factory.LazyFunction(timezone.now),
            heartbeat_at=factory.LazyFunction(timezone.now),
        )
        succeeded = factory.Trait(
            status=JobStatus.SUCCEEDED,
            deliveries=1,
            started_at=factory.LazyFunction(timezone.now),
            finished_at=factory.LazyFunction(timezone.now),
            progress_step=factory.SelfAttribute("progress_total"),
            images_done=factory.SelfAttribute("num_images"),
        )
        failed = factory.Trait(
            status=JobStatus.FAILED,
            deliveries=1,
            started_at=factory.LazyFunction(timezone.now),
            finished_at=factory.LazyFunction(timezone.now),
            last_error="The worker failed.",
        )
        canceled = factory.Trait(
            status=JobStatus.CANCELED,
            canceled_at=factory.LazyFunction(timezone.now),
            finished_at=factory.LazyFunction(timezone.now),
        )

    @factory.post_generation
    def with_reservation(self, create, extracted, **kwargs):
        """Reserve the job's credits through the real admission (plan limits included), as a submit does."""
        if create and extracted:
            from generation.credits import admit_job

            admit_job(user=self.owner, job=self)


class GeneratedImageFactory(factory.django.DjangoModelFactory):
    """An image row with no file behind it: for lists, filters and sweepers. Give `owner` or `job` (or both);
    stored_image() stores a real one."""

    class Meta:
        model = GeneratedImage

    owner = factory.LazyAttribute(lambda image: image.job.owner)
    job = factory.SubFactory(GenerationJobFactory, succeeded=True, owner=factory.SelfAttribute("..owner"))
    index = factory.LazyAttribute(lambda image: image.job.images.count())
    image_type = factory.SelfAttribute("job.image_type")
    file = factory.LazyAttribute(lambda image: f"images/{image.owner.pk}/{image.job.pk}/{uuid.uuid4().hex}.png")
    thumbnail = factory.LazyAttribute(lambda image: f"{image.file.removesuffix('.png')}.thumb.webp")
    width = factory.SelfAttribute("job.width")
    height = factory.SelfAttribute("job.height")
    seed = factory.LazyAttribute(lambda image: image.job.seed + image.index)
    model = factory.SelfAttribute("job.model")
    backend = "tiny"
    steps = factory.SelfAttribute("job.steps")
    guidance = factory.SelfAttribute("job.guidance")
    prompt_used = factory.SelfAttribute("job.prompt")
    generation_seconds = 0.1
    production_path = factory.SelfAttribute("job.production_path")
    template = factory.SelfAttribute("job.template")


def stored_image(
    owner: User | None = None,
    *,
    job: GenerationJob | None = None,
    index: int = 0,
    color: tuple[int, int, int] = (200, 40, 40),
    **job_fields,
) -> GeneratedImage:
    """A real image (PNG + thumbnail) stored through the worker's own service, of `job` or of a new
    succeeded job of `owner`'s built from `job_fields`."""
    job = job or GenerationJobFactory(owner=owner, succeeded=True, **job_fields)
    return store_generated_image(
        job=job,
        index=index,
        image=Image.new("RGB", (job.width, job.height), color),
        prompt_used=job.prompt,
        negative_prompt_used="blurry",
        seed=job.seed + index,
        backend="tiny",
        generation_seconds=0.5,
    )


def diffusion_request(**fields) -> DiffusionRequest:
    """A three-step 256 px Z-Image request for one image; `fields` override any DiffusionRequest field."""
    values = dict(
        prompt="a teapot",
        negative_prompt="",
        model=Z_IMAGE_TURBO,
        scheduler="FlowMatchEulerDiscrete",
        steps=3,
        guidance=0.0,
        width=256,
        height=256,
        seed=5,
    )
    return DiffusionRequest(**(values | fields))


def png_bytes(size: tuple[int, int] = (320, 256), color: tuple[int, ...] = (30, 90, 160), mode: str = "RGB") -> bytes:
    """A real PNG file's bytes, as a customer's upload would be."""
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def source_upload(owner: User, *, size: tuple[int, int] = (320, 256), kind: str = "image", **png) -> SourceImage:
    """An uploaded source image (or mask) of `owner`'s, stored through the upload service."""
    return store_source_image(owner=owner, file=png_bytes(size, **png), kind=kind)


def mask_png(size: tuple[int, int], box: tuple[int, int, int, int]) -> bytes:
    """A black mask with a white (repaint) rectangle `box` = (left, top, right, bottom)."""
    mask = Image.new("L", size, 0)
    mask.paste(255, box)
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG")
    return buffer.getvalue()


def timed_job(
    owner: User,
    *,
    status: str,
    created: datetime | None = None,
    wait: float | None = None,
    processing: float | None = None,
    **fields,
) -> GenerationJob:
    """A reserved job created at `created`, started `wait` s later, finished `processing` s after that, and
    settled if final: for statistics over known durations."""
    from generation.credits import settle_job_credits

    created = created or timezone.now() - timedelta(hours=2)
    started = created + timedelta(seconds=wait) if wait is not None else None
    finished = started + timedelta(seconds=processing) if started and processing is not None else None
    if status in (JobStatus.FAILED, JobStatus.CANCELED) and finished is None:
        finished = (started or created) + timedelta(seconds=1)
    job = GenerationJobFactory(owner=owner, created_at=created, with_reservation=True, **fields)
    GenerationJob.objects.filter(pk=job.pk).update(
        status=status,
        started_at=started,
        finished_at=finished,
        images_done=job.num_images if status == JobStatus.SUCCEEDED else 0,
    )
    job.refresh_from_db()
    if job.is_final:
        settle_job_credits(job=job)
    return job


# --- scenes -----------------------------------------------------------------------------------


class StoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Story

    owner = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Story {n}")


class ChapterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Chapter

    story = factory.SubFactory(StoryFactory)
    number = factory.Sequence(lambda n: n + 1)


class CharacterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Character

    story = factory.SubFactory(StoryFactory)
    name = factory.Sequence(lambda n: f"Character {n}")
    description = "short, curly red hair, green raincoat"


class SceneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Scene
        skip_postgeneration_save = True

    chapter = factory.SubFactory(ChapterFactory)
    scene_number = factory.Sequence(lambda n: n + 1)
    description = "a lighthouse on a cliff at dusk"

    @factory.post_generation
    def characters(self, create, extracted, **kwargs):
        if create and extracted:
            self.characters.set(extracted)


# --- LoRA styles ---------------------------------------------------------------------------------


LORA_TARGETS = {
    "denoiser": ["to_q", "to_k", "to_v", "to_out.0"],
    "text_encoder": ["q_proj", "k_proj", "v_proj", "out_proj"],
}


def lora_file(base_model: str, *, seed: int = 0, rank: int = 4, text_encoder: bool = False) -> bytes:
    """A .safetensors LoRA for `base_model`'s tiny pipeline: peft layers (random A and B, so it changes the image)
    on the transformer's (Z-Image) or UNet's (SDXL) attention, and with `text_encoder` on SDXL's first text
    encoder too, saved with diffusers' own save_lora_weights."""
    import tempfile
    from pathlib import Path

    import torch
    from peft import LoraConfig, inject_adapter_in_model
    from peft.utils import get_peft_model_state_dict

    from generation.engine.diffusion.tiny import build_tiny_sdxl, build_tiny_z_image

    pipeline = build_tiny_z_image() if base_model == Z_IMAGE_TURBO else build_tiny_sdxl()
    torch.manual_seed(seed)
    parts = {"transformer" if base_model == Z_IMAGE_TURBO else "unet": LORA_TARGETS["denoiser"]}
    if text_encoder:
        parts["text_encoder"] = LORA_TARGETS["text_encoder"]
    layers: dict[str, object] = {}
    for component, targets in parts.items():
        config = LoraConfig(r=rank, lora_alpha=rank, target_modules=targets, init_lora_weights=False)
        module = inject_adapter_in_model(config, getattr(pipeline, component))
        layers[f"{component}_lora_layers"] = get_peft_model_state_dict(module)
        layers[f"{component}_lora_adapter_metadata"] = config.to_dict()
    with tempfile.TemporaryDirectory() as folder:
        type(pipeline).save_lora_weights(folder, **layers)
        return (Path(folder) / "pytorch_lora_weights.safetensors").read_bytes()


def stored_style(data: bytes, *, base_model: str = Z_IMAGE_TURBO, name: str = "Style", weight: float = 1.0) -> dict:
    """A style file put in storage, and the job's snapshot entry for it as brands.services.resolve_styles writes
    it (GenerationJob.styles): for worker tests that need no Style row."""
    import hashlib

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    sha256 = hashlib.sha256(data).hexdigest()
    key = default_storage.save(f"styles/test/{sha256[:12]}.safetensors", ContentFile(data))
    return {
        "id": 0,
        "name": name,
        "weight": weight,
        "trigger_words": "",
        "file": key,
        "sha256": sha256,
        "base_model": base_model,
    }


# --- brands -------------------------------------------------------------------------------------


class StyleFactory(factory.django.DjangoModelFactory):
    """A style row, public by default (`owner=user` for a private one). Its file is not stored: for tests of
    what a job records and asks for; a style to load on a worker comes from brands.services.style_create."""

    class Meta:
        model = "brands.Style"

    owner = None
    name = factory.Sequence(lambda n: f"Style {n}")
    base_model = Z_IMAGE_TURBO
    file = factory.Sequence(lambda n: f"styles/factory-{n}.safetensors")
    file_size = 1024
    sha256 = factory.Sequence(lambda n: f"{n:064x}")
    trigger_words = factory.Sequence(lambda n: f"style{n} look")


class BrandKitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "brands.BrandKit"

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Kit {n}")
