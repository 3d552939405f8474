"""GPU benchmark (run on a machine with CUDA and the model weights, e.g. through the device tool).

For Z-Image-Turbo and SDXL at 1024x1024: warm seconds per image called directly through the backend in a
loop, then through the product's worker path (submit_job + execute_job: claim, per-step progress writes,
PNG with metadata, thumbnail, storage, ledger), the ratio of the two (target <= 1.1x), images/min, GPU
utilisation (nvidia-smi, sampled) and peak VRAM. Without CUDA or weights it says so and exits 0.
Usage: DIFFUSION_WEIGHTS_DIR=/weights python benchmarks/gpu.py [--images 10]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import threading
import time

from _setup import configure, machine


class UtilisationSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.split()
            if out and out[0].isdigit():
                self.samples.append(int(out[0]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=10)
    args = parser.parse_args()
    import torch

    from generation.engine.diffusion.backends import DiffusersBackend, weights_available
    from generation.engine.models_catalog import MODELS, SDXL, Z_IMAGE_TURBO

    print(f"machine: {machine()}")
    if not torch.cuda.is_available():
        print("skipped: no CUDA device here")
        return
    print(f"gpu: {torch.cuda.get_device_name(0)}")
    configure("gpu", redis_db=3)
    from accounts.models import User
    from accounts.services import grant_credits
    from generation import runner, services
    from generation.engine.diffusion import DiffusionRequest

    user = User.objects.create_user(email="gpu@example.com", password=None, tier="enterprise")
    grant_credits(user=user, amount=100_000, reason="benchmark", idempotency_key="bench-gpu")
    for model in (Z_IMAGE_TURBO, SDXL):
        if not weights_available(model):
            print(f"{model}: skipped, weights not found (DIFFUSION_WEIGHTS_DIR or the HF cache)")
            continue
        spec = MODELS[model]
        backend = DiffusersBackend("diffusers", "cuda", preload=(model,))
        request = DiffusionRequest(
            prompt="a studio photo of a red sneaker",
            negative_prompt="",
            model=model,
            scheduler=spec.schedulers[0],
            steps=spec.default_steps,
            guidance=spec.default_guidance,
            width=1024,
            height=1024,
            seed=1,
        )
        backend.generate(request, lambda *_: None)  # warm-up: kernels, allocator
        torch.cuda.reset_peak_memory_stats()
        sampler = UtilisationSampler()
        sampler.start()
        direct = []
        for index in range(args.images):
            started = time.perf_counter()
            backend.generate(request.__class__(**{**request.__dict__, "seed": index}), lambda *_: None)
            direct.append(time.perf_counter() - started)
        sampler.stop.set()
        peak = torch.cuda.max_memory_allocated() / 2**30
        import generation.engine.diffusion as diffusion

        diffusion._backend = backend  # the product path uses this same warm pipeline
        product = []
        for index in range(args.images):  # the worker's code path in-process; the broker hop is in e2e.py
            job = services.submit_job(
                user=user,
                prompt=request.prompt,
                production_path="fashion",
                width=1024,
                height=1024,
                steps=request.steps,
                guidance=request.guidance,
                seed=index,
            )
            started = time.perf_counter()
            assert runner.execute_job(job_id=job.pk, dispatch_token=str(job.dispatch_token)) == "succeeded"
            product.append(time.perf_counter() - started)
        d, p = statistics.median(direct), statistics.median(product)
        utilisation = statistics.mean(sampler.samples) if sampler.samples else float("nan")
        print(
            f"{spec.label} 1024x1024, {request.steps} steps: direct {d:.3f} s/image, product {p:.3f} s/image "
            f"(ratio {p / d:.2f}x, target <= 1.1x), {60 / p:.1f} images/min, GPU utilisation {utilisation:.0f} %, "
            f"peak VRAM {peak:.1f} GiB"
        )
        del backend
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
