"""GPU benchmark: Z-Image-Turbo and SDXL at 1024x1024, direct and through the product's worker path.

For each model: warm seconds per image calling the backend directly, then seconds per image through the
worker path with a queue of jobs (submit_job, then execute_job as the Celery task runs it: claim, per-step
progress, PNG with metadata, thumbnail, storage and ledger on the store thread while the next image draws),
the ratio of the two (goal <= 1.05x), images per minute, GPU utilisation (nvidia-smi, sampled every 0.2 s)
and peak VRAM; each without and with torch.compile (DIFFUSION_COMPILE=blocks, warm-up timed apart).

--random-weights builds both models at their real sizes from their published configurations
(generation/engine/diffusion/configs/*.json, random bf16 / fp16 weights: the same work per step as the
trained weights, so no download is needed); without it the real weights are loaded (DIFFUSION_WEIGHTS_DIR or
the HF cache). --smoke runs the same code on the CPU with the tiny in-code pipelines at 256 px, two images
and the fewest steps each model allows,
as a test does (the real-size configurations are still built, on the meta device, to check their sizes).
Both models go through one backend and its model pool, released between models, as on a 24 GB card.
Usage: python benchmarks/gpu.py --random-weights [--images 5] [--compile off,blocks] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import threading
import time
import traceback
from typing import Any

from _setup import configure, machine


class UtilisationSampler(threading.Thread):
    """nvidia-smi's GPU utilisation every 0.2 s while a phase runs (nothing without nvidia-smi)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[int] = []
        self.stop = threading.Event()
        self.available = shutil.which("nvidia-smi") is not None

    def run(self) -> None:
        while self.available and not self.stop.wait(0.2):
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "--id=0"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.split()
            if out and out[0].isdigit():
                self.samples.append(int(out[0]))

    def __enter__(self) -> UtilisationSampler:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.join(timeout=2)

    @property
    def mean(self) -> float | None:
        return round(statistics.mean(self.samples), 1) if self.samples else None


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--random-weights", action="store_true", help="real-sized models with random weights")
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny pipelines, 256 px: checks the script runs")
    parser.add_argument("--images", type=int, default=None, help="images per phase (default 5, smoke 2)")
    parser.add_argument("--size", type=int, default=None, help="image side (default 1024, smoke 256)")
    parser.add_argument("--compile", default=None, help="comma-separated DIFFUSION_COMPILE values to run")
    parser.add_argument("--models", default="z-image,sdxl")
    parser.add_argument("--json", default="", help="also write the figures to this file")
    args = parser.parse_args()
    args.images = args.images or (2 if args.smoke else 5)
    args.size = args.size or (256 if args.smoke else 1024)
    args.compile = (args.compile or ("off" if args.smoke else "off,blocks")).split(",")
    return args


def real_sizes() -> dict[str, float]:
    """GiB of each real model at its serving dtype, built from the committed configurations on the meta device."""
    from generation.engine.diffusion.random_weights import component_bytes

    return {model: round(sum(component_bytes(model).values()) / 2**30, 2) for model in real_models()}


def real_models() -> tuple[str, ...]:
    from generation.engine.models_catalog import SDXL, Z_IMAGE_TURBO

    return (Z_IMAGE_TURBO, SDXL)


def build_backend(args: argparse.Namespace, device: str) -> Any:
    from generation.engine.diffusion.backends import DiffusersBackend, load_pipeline, tiny_factory
    from generation.engine.diffusion.random_weights import build_random_pipeline

    if args.smoke:
        return DiffusersBackend("tiny", device, factory=tiny_factory)
    if args.random_weights:
        return DiffusersBackend("random-weights", device, factory=lambda m, d: build_random_pipeline(m, device=d))
    return DiffusersBackend("diffusers", device, factory=load_pipeline)


def submit_queue(user: Any, model: str, size: int, count: int, *, fewest_steps: bool = False) -> list[Any]:
    """`count` one-image jobs as users submit them: Turbo on the fashion path, SDXL with the 3D-render template
    (its steps and guidance; with `fewest_steps` the least steps its bounds allow)."""
    from generation import services
    from generation.engine.models_catalog import SDXL
    from templates_app.models import Template

    template = Template.objects.filter(slug="3d-render", is_active=True).first() if model == SDXL else None
    return [
        services.submit_job(
            user=user,
            prompt="a studio photo of a red sneaker on a white table",
            production_path=None if template else "fashion",
            template=template,
            width=size,
            height=size,
            seed=index,
            steps=(20 if template else 4) if fewest_steps else None,
        )
        for index in range(count)
    ]


def run_model(args: argparse.Namespace, backend: Any, user: Any, model: str, torch: Any) -> list[dict[str, Any]]:
    from django.conf import settings

    import generation.engine.diffusion as diffusion
    from generation import runner
    from generation.engine.diffusion import DiffusionRequest, fastpaths
    from generation.models import GenerationJob, JobStatus
    from generation.store_queue import store_queue

    cuda = backend.device.startswith("cuda")
    diffusion._backend = backend  # the worker path draws with this same warm backend
    rows = []
    loaded = time.perf_counter()
    pipeline = backend._pipeline(model)
    load_seconds = time.perf_counter() - loaded
    for choice in args.compile:
        settings.DIFFUSION_COMPILE = choice
        warm_started = time.perf_counter()
        if choice != "off":
            fastpaths.prepare_pipeline(pipeline)
        # The queue waits before the worker starts; its first job's request (steps, guidance, scheduler, size
        # as the worker will draw them) is what the direct loop draws.
        jobs = submit_queue(user, model, args.size, args.images, fewest_steps=args.smoke)
        request = DiffusionRequest.for_image(jobs[0].job_input(), prompt=jobs[0].prompt, negative_prompt="", index=0)
        backend.generate(request, lambda *_: None)  # warm-up: compilation, kernels, allocator
        warm_seconds = time.perf_counter() - warm_started
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        direct = []
        with UtilisationSampler() as direct_gpu:
            for index in range(args.images):
                started = time.perf_counter()
                backend.generate(DiffusionRequest(**{**request.__dict__, "seed": index}), lambda *_: None)
                if cuda:
                    torch.cuda.synchronize()
                direct.append(time.perf_counter() - started)
        with UtilisationSampler() as product_gpu:
            started = time.perf_counter()
            for queued in jobs:
                runner.execute_job(job_id=queued.pk, dispatch_token=str(queued.dispatch_token), in_background=True)
            store_queue().drain(timeout=600)
            product = (time.perf_counter() - started) / len(jobs)
        succeeded = GenerationJob.objects.filter(pk__in=[j.pk for j in jobs], status=JobStatus.SUCCEEDED).count()
        d = statistics.median(direct)
        rows.append(
            {
                "model": model,
                "compile": choice,
                "size": args.size,
                "steps": request.steps,
                "load_s": round(load_seconds, 2),
                "warm_up_s": round(warm_seconds, 2),
                "direct_s_per_image": round(d, 4),
                "product_s_per_image": round(product, 4),
                "ratio": round(product / d, 3),
                "images_per_min": round(60 / product, 1),
                "gpu_util_direct_pct": direct_gpu.mean,
                "gpu_util_product_pct": product_gpu.mean,
                "peak_vram_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
                "jobs": len(jobs),
                "jobs_succeeded": succeeded,
                "resident": [entry["model"] for entry in backend.pool.resident()],
            }
        )
    settings.DIFFUSION_COMPILE = "off"
    return rows


def main() -> None:
    args = parse_args()
    import torch

    print(f"machine: {machine()}")
    cuda = torch.cuda.is_available()
    if not cuda and not args.smoke:
        print("skipped: no CUDA device here (--smoke runs the same code on the CPU at tiny size)")
        return
    if not args.smoke and not args.random_weights:
        from generation.engine.diffusion.backends import weights_available

        missing = [model for model in real_models() if not weights_available(model)]
        if missing:
            print(f"skipped: weights not found for {', '.join(missing)} (--random-weights needs none)")
            return
    began = time.perf_counter()
    configure("gpu_smoke" if args.smoke else "gpu", redis_db=3)
    from django.conf import settings
    from django.utils import timezone

    from accounts.models import User
    from accounts.services import grant_credits
    from generation.engine.models_catalog import MODELS, SDXL, Z_IMAGE_TURBO
    from templates_app.services import seed_curated_templates

    device = "cuda" if cuda and not args.smoke else "cpu"
    torch.set_num_threads(settings.TORCH_CPU_THREADS)  # as the worker does (backends.build_backend)
    print(f"device: {torch.cuda.get_device_name(0) if device == 'cuda' else 'cpu (smoke: tiny pipelines)'}")
    sizes = real_sizes()
    for model, gib in sizes.items():
        print(f"{MODELS[model].label}: {gib} GiB of weights at its serving dtype (published configuration)")
    seed_curated_templates()
    user = User.objects.create_user(
        email="gpu@example.com", password=None, tier="enterprise", email_verified_at=timezone.now()
    )
    grant_credits(user=user, amount=100_000, reason="benchmark", idempotency_key="bench-gpu")
    backend = build_backend(args, device)
    wanted = {"z-image": Z_IMAGE_TURBO, "sdxl": SDXL}
    rows: list[dict[str, Any]] = []
    failed = []
    for name in args.models.split(","):
        model = wanted[name]
        try:
            measured = run_model(args, backend, user, model, torch)
        except Exception:  # one model's failure (out of memory, a compile error) still reports the other
            traceback.print_exc()
            print(f"{MODELS[model].label}: failed, see the traceback above")
            failed.append(model)
            measured = []
            settings.DIFFUSION_COMPILE = "off"
        for row in measured:
            rows.append(row)
            gpu = "n/a" if row["gpu_util_product_pct"] is None else f"{row['gpu_util_product_pct']:.0f} %"
            vram = "n/a" if row["peak_vram_gib"] is None else f"{row['peak_vram_gib']:.1f} GiB"
            print(
                f"{MODELS[model].label} {row['size']}x{row['size']}, {row['steps']} steps, compile={row['compile']}: "
                f"direct {row['direct_s_per_image']:.3f} s/image, worker path {row['product_s_per_image']:.3f} "
                f"s/image over a queue of {row['jobs']} jobs (ratio {row['ratio']:.3f}x, goal <= 1.05x), "
                f"{row['images_per_min']:.1f} images/min, GPU utilisation {gpu} (direct "
                f"{row['gpu_util_direct_pct'] or 'n/a'}), peak VRAM {vram}, warm-up {row['warm_up_s']:.1f} s, "
                f"load {row['load_s']:.1f} s"
            )
        backend.forget_model(model)  # one model resident at a time, as on a 24 GB card
    total = time.perf_counter() - began
    print(f"total {total:.0f} s")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"device": device, "real_sizes_gib": sizes, "rows": rows, "seconds": round(total, 1)}, handle)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
