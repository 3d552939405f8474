"""LoRA styles on a warm worker's backend (the tiny pipelines): what a style costs a job, against the no-style
baseline measured in the same run.

- load: the first job with a style not yet loaded (header check + load_lora_weights + set_adapters), minus the
  baseline job;
- switching: jobs alternating between two styles, with the cache holding both (cached: set_adapters only) and
  holding one (STYLE_CACHE_MAX_ADAPTERS=1: each job deletes one adapter and loads the other);
- memory: bytes of one cached adapter's weights, and the process's RSS growth per adapter over 8;
- fetch: the worker's copy of a style file from storage (sha256 checked), first time and already local.

Usage: python benchmarks/styles.py [--runs 5] [--size 256] [--steps 4] [--rank 16]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _setup import configure, machine, rss_mb


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rank", type=int, default=16)
    args = parser.parse_args()
    configure("styles", redis_db=9)

    from generation.engine.diffusion import DiffusionRequest, LoraStyle
    from generation.engine.diffusion.backends import DiffusersBackend, tiny_factory
    from generation.engine.models_catalog import SDXL, Z_IMAGE_TURBO
    from generation.style_files import local_style_file, style_files_dir
    from tests.factories import lora_file, stored_style

    print(f"machine: {machine()} | load average {os.getloadavg()[0]:.1f}")
    print(f"tiny pipelines, {args.size}x{args.size}, {args.steps} steps, LoRA rank {args.rank}, median of {args.runs}")
    folder = Path(tempfile.mkdtemp(prefix="bench-styles-"))
    settings_of: dict[str, dict[str, Any]] = {
        Z_IMAGE_TURBO: {"scheduler": "FlowMatchEulerDiscrete", "guidance": 0.0},
        SDXL: {"scheduler": "EulerDiscrete", "guidance": 5.0, "negative_prompt": "blurry"},
    }

    def style(model: str, seed: int) -> LoraStyle:
        data = lora_file(model, seed=seed, rank=args.rank, text_encoder=model == SDXL)
        sha256 = hashlib.sha256(data).hexdigest()
        path = folder / f"{sha256}.safetensors"
        path.write_bytes(data)
        return LoraStyle(path=str(path), sha256=sha256, weight=0.8, name=f"bench {seed}")

    for model in (Z_IMAGE_TURBO, SDXL):
        fields: dict[str, Any] = {"negative_prompt": ""} | settings_of[model]
        request = DiffusionRequest(
            prompt="benchmark", model=model, steps=args.steps, width=args.size, height=args.size, seed=1, **fields
        )

        applied: dict[int, list[float]] = {}  # backend -> seconds of each job's style switch alone

        def job(
            backend: DiffusersBackend,
            *styles: LoraStyle,
            request: DiffusionRequest = request,
            applied: dict[int, list[float]] = applied,
        ) -> float:
            styled = DiffusionRequest(**{**request.__dict__, "styles": styles})
            started = time.perf_counter()
            backend._with_styles(styled)  # timed alone; generate() repeats it, a no-op by then
            applied.setdefault(id(backend), []).append(time.perf_counter() - started)
            backend.generate(styled, lambda *_: None)
            return time.perf_counter() - started

        # One warm backend per case, each job of a round run back to back, so a round's figures share the
        # machine's load (other engineers' test suites): the costs are each round's differences to its baseline.
        base, cached, uncached, new = (DiffusersBackend("tiny", "cpu", factory=tiny_factory) for _ in range(4))
        uncached.styles.max_adapters = 1  # two styles alternating: every job deletes one adapter and loads the other
        new.styles.max_adapters = 10**6
        first, second = style(model, 1001), style(model, 1002)
        for backend in (base, cached, uncached, new):
            job(backend)  # the model loaded, its first image drawn
        for backend in (cached, uncached, new):
            job(backend, style(model, 999))  # the LoRA code imported and the architecture table built once
        job(cached, first), job(cached, second)
        rounds: dict[str, list[float]] = {"baseline": [], "new": [], "cached": [], "uncached": []}
        for backend in (cached, uncached, new):
            applied[id(backend)] = []
        for n in range(args.runs):
            switch = first if n % 2 else second
            rounds["baseline"].append(job(base))
            rounds["new"].append(job(new, style(model, n)))  # a style this worker never loaded
            rounds["cached"].append(job(cached, switch))
            rounds["uncached"].append(job(uncached, switch))
        baseline = statistics.median(rounds["baseline"])

        def cost(case: str, rounds: dict[str, list[float]] = rounds) -> str:
            extra = statistics.median(t - b for t, b in zip(rounds[case], rounds["baseline"], strict=True))
            ratio = statistics.median(t / b for t, b in zip(rounds[case], rounds["baseline"], strict=True))
            whole = statistics.median(rounds[case]) * 1000
            return f"{whole:.0f} ms (+{extra * 1000:.0f} ms, {ratio:.2f}x baseline)"

        def switch_alone(backend: DiffusersBackend, applied: dict[int, list[float]] = applied) -> str:
            return f"{statistics.median(applied[id(backend)]) * 1000:.1f} ms"

        print(f"\n{model}")
        print(f"  baseline job, no style: {baseline * 1000:.0f} ms")
        print(f"  first job with a style new to the worker: {cost('new')}; the load alone {switch_alone(new)}")
        print(f"  switching between two styles, both cached: {cost('cached')}; the switch alone {switch_alone(cached)}")
        print(
            f"  switching between two styles, cache of one (reload each job): {cost('uncached')}; the switch alone "
            f"{switch_alone(uncached)}"
        )
        backend = DiffusersBackend("tiny", "cpu", factory=tiny_factory)  # a warm one with no adapter yet
        job(backend)
        rss_before = rss_mb(os.getpid())
        eight = [style(model, 2000 + n) for n in range(8)]
        for s in eight:
            job(backend, s)
        per_adapter = backend.styles.used_bytes / len(backend.styles.cached())
        file_bytes = Path(eight[0].path).stat().st_size
        print(
            f"  memory per cached adapter: {per_adapter / 1024:.0f} KiB of weights (file {file_bytes / 1024:.0f} "
            f"KiB); RSS growth over 8 adapters: {(rss_mb(os.getpid()) - rss_before) / 8:.2f} MB each"
        )

    data = lora_file(Z_IMAGE_TURBO, seed=3000, rank=args.rank)
    entry = stored_style(data)
    fetches, local = [], []
    for _ in range(args.runs):
        for path in style_files_dir().glob("*"):
            path.unlink()
        started = time.perf_counter()
        local_style_file(entry)
        fetches.append(time.perf_counter() - started)
        started = time.perf_counter()
        local_style_file(entry)
        local.append(time.perf_counter() - started)
    first_ms, local_ms = statistics.median(fetches) * 1000, statistics.median(local) * 1000
    size_kib = len(data) / 1024
    print(f"\nstyle file fetch ({size_kib:.0f} KiB, local storage): first {first_ms:.2f} ms, local {local_ms:.2f} ms")


if __name__ == "__main__":
    main()
