"""Image-mode benchmark: seconds per operation at 1024x1024 on the tiny Z-Image pipeline, text-to-image as the
baseline measured in the same run, and the memory the derived img2img / inpaint pipelines add.

Each operation runs the product's workflow (build_pipeline(mode=) -> load_image -> generation or upscale) through
run_pipeline, as the worker does, minus storage: text, image-to-image at strength 0.6, inpaint (a centred square
half the side, strength 1.0), outpaint (a 576 px square extended to 1024x1024), upscale x2 (512 -> 1024, one
tile), run round-robin --runs times after a warm-up, the fastest run of each reported; then x2 to 2048 (1024 px
tiles, 128 px overlap: 9 tiles) once. Steps are the step callbacks counted in the run.
Memory: unique tensor bytes reachable from the backend's pipelines (by data_ptr) and process RSS, before and
after deriving both variants of each model, and after running them once.
Usage: python benchmarks/image_modes.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from _setup import configure_without_database, machine, rss_mb

STEPS = 9  # Z-Image-Turbo's default


def job(mode: str, **fields: Any) -> Any:
    from generation.engine.job_input import JobInput
    from generation.engine.models_catalog import Z_IMAGE_TURBO
    from generation.engine.paths import get_path
    from generation.engine.workflow import validate_pipeline

    values: dict[str, Any] = dict(
        production_path="fashion",
        prompt="a red teapot on a marble table",
        negative_prompt="",
        model=Z_IMAGE_TURBO,
        scheduler="FlowMatchEulerDiscrete",
        steps=STEPS,
        guidance=0.0,
        width=1024,
        height=1024,
        num_images=1,
        seed=1,
        workflow=validate_pipeline(get_path("fashion").build_pipeline([], mode=mode)),
        credit_cost=1,
        mode=mode,
        source_key="source" if mode != "text" else "",
    )
    return JobInput(**(values | fields))


def photo(width: int, height: int) -> Any:
    import numpy as np
    from PIL import Image

    cells = np.random.RandomState(0).randint(0, 256, size=(height // 64, width // 64, 3)).astype(np.uint8)
    return Image.fromarray(cells, "RGB").resize((width, height), Image.Resampling.BICUBIC)


def run_once(job_input: Any, stored: dict[str, Any]) -> tuple[float, int]:
    """(seconds, step callbacks) of running the job's workflow once."""
    from generation.engine.workflow import WorkflowContext, run_pipeline

    steps = []
    context = WorkflowContext(
        job=job_input,
        load_image=stored.__getitem__,
        store_image=lambda context, index, image: image,
        on_step=lambda step, total, latents: steps.append(step),
    )
    started = time.perf_counter()
    run_pipeline(job_input.workflow, context)
    return time.perf_counter() - started, len(steps)


def vae_seconds(runs: int) -> tuple[float, float]:
    """(encode, decode) seconds of the tiny Z-Image VAE at 1024x1024, the fastest of `runs`: the image modes' cost
    beyond their steps (an encode per image or tile) and what every mode pays once (the decode)."""
    import torch

    from generation.engine.diffusion import get_backend
    from generation.engine.models_catalog import Z_IMAGE_TURBO

    pipeline = get_backend()._pipeline(Z_IMAGE_TURBO)
    pixels = pipeline.image_processor.preprocess(photo(1024, 1024))
    encode, decode = [], []
    with torch.inference_mode():
        for _ in range(runs):
            started = time.perf_counter()
            latents = pipeline.vae.encode(pixels).latent_dist.mode()
            encode.append(time.perf_counter() - started)
            started = time.perf_counter()
            pipeline.vae.decode(latents)
            decode.append(time.perf_counter() - started)
    return min(encode), min(decode)


def tensor_bytes(backend: Any) -> int:
    """Unique bytes of every parameter and buffer reachable from the backend's pipelines, derived ones included."""
    import torch

    seen: dict[int, int] = {}
    for entry in backend.pool._entries.values():
        for pipeline in (entry.pipeline, *entry.variants.values()):
            for component in pipeline.components.values():
                if isinstance(component, torch.nn.Module):
                    for tensor in (*component.parameters(), *component.buffers()):
                        seen[tensor.data_ptr()] = tensor.numel() * tensor.element_size()
    return sum(seen.values())


def memory() -> None:
    from PIL import Image

    from generation.engine.diffusion import DiffusionRequest
    from generation.engine.diffusion.backends import TinyBackend
    from generation.engine.models_catalog import SDXL, Z_IMAGE_TURBO

    backend = TinyBackend()
    backend._pipeline(SDXL)
    before_bytes, before_rss = tensor_bytes(backend), rss_mb(os.getpid())
    for model in (Z_IMAGE_TURBO, SDXL):
        for mode in ("image", "inpaint"):
            backend._pipeline_for(model, mode)
    after_bytes, after_rss = tensor_bytes(backend), rss_mb(os.getpid())
    mib = 2**20
    print(
        f"tensor bytes of both tiny models: {before_bytes / mib:.2f} MiB before deriving, {after_bytes / mib:.2f} after"
    )
    print(f"RSS: {before_rss:.0f} MB before deriving, {after_rss:.0f} MB after (+{after_rss - before_rss:.1f} MB)")
    source, mask = photo(512, 512), Image.new("L", (512, 512), 255)
    for model, scheduler in ((Z_IMAGE_TURBO, "FlowMatchEulerDiscrete"), (SDXL, "EulerDiscrete")):
        for mode in ("text", "image", "inpaint"):
            request = DiffusionRequest(
                prompt="a teapot", negative_prompt="", model=model, scheduler=scheduler, steps=2, guidance=0.0,
                width=512, height=512, seed=1, mode=mode, image=source, mask=mask, strength=1.0,
            )  # fmt: skip
            backend.generate(request, lambda *_: None)
    print(f"RSS after one 512 px text, image and inpaint run per model: {rss_mb(os.getpid()):.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    configure_without_database()
    import torch
    from django.conf import settings
    from PIL import Image

    torch.set_num_threads(settings.TORCH_CPU_THREADS)
    print(f"machine: {machine()}; torch threads: {torch.get_num_threads()}")
    print(f"tiny Z-Image pipeline (random weights), {STEPS} steps, 1024x1024 output unless noted")
    mask = Image.new("L", (1024, 1024), 0)
    mask.paste(255, (256, 256, 768, 768))
    operations = [
        ("text-to-image (baseline)", job("text"), {}),
        ("image-to-image, strength 0.6", job("image", strength=0.6), {"source": photo(1024, 1024)}),
        (
            "inpaint, strength 1.0",
            job("inpaint", strength=1.0, mask_key="mask"),
            {"source": photo(1024, 1024), "mask": mask},
        ),
        ("outpaint 576 -> 1024", job("outpaint", outpaint_anchor="center", strength=1.0), {"source": photo(576, 576)}),
        ("upscale x2, 512 -> 1024", job("upscale", upscale_factor=2, strength=0.3), {"source": photo(512, 512)}),
    ]
    # Round-robin, so a neighbour's load falls on every operation alike; the fastest run of each is reported.
    for _, job_input, stored in operations:
        run_once(job_input, stored)  # warm-up: derives the pipeline each mode needs
    timings: dict[str, list[float]] = {label: [] for label, _, _ in operations}
    steps: dict[str, int] = {}
    for _ in range(args.runs):
        for label, job_input, stored in operations:
            seconds, steps[label] = run_once(job_input, stored)
            timings[label].append(seconds)
    big = job("upscale", upscale_factor=2, strength=0.3, width=2048, height=2048)
    seconds, steps["upscale x2, 1024 -> 2048, 9 tiles (one run)"] = run_once(big, {"source": photo(1024, 1024)})
    timings["upscale x2, 1024 -> 2048, 9 tiles (one run)"] = [seconds]
    baseline, baseline_steps = min(timings[operations[0][0]]), steps[operations[0][0]]
    print("| operation | steps | seconds (fastest) | vs text | seconds per step |")
    print("| --- | --- | --- | --- | --- |")
    for label, values in timings.items():
        seconds = min(values)
        ratio_steps, ratio_seconds = steps[label] / baseline_steps, seconds / baseline
        print(
            f"| {label} | {steps[label]} ({ratio_steps:.2f}x) | {seconds:.2f} | {ratio_seconds:.2f}x "
            f"| {seconds / steps[label]:.3f} |"
        )
    encode, decode = vae_seconds(args.runs)
    print(f"tiny VAE at 1024x1024: encode {encode:.2f} s, decode {decode:.2f} s")
    memory()


if __name__ == "__main__":
    main()
