"""A benchmark-only diffusion backend: each step is a timed sleep, as if a GPU drew it, then a flat image.

Nothing in the application can select it: `generation.engine.diffusion.backends.build_backend` knows only
auto, tiny and diffusers, and no module outside benchmarks/ imports this one. benchmarks/_sim_worker.py installs
it in its own worker processes before they fork their pool.
"""

from __future__ import annotations

import time
from typing import Any

from PIL import Image


class SleepBackend:
    """`seconds_per_step` of sleep per denoising step, reporting each step like the real pipeline."""

    name = "sleep"

    def __init__(self, seconds_per_step: float):
        self.seconds_per_step = seconds_per_step

    def generate(self, request: Any, on_step: Any) -> Image.Image:
        for step in range(1, request.steps + 1):
            time.sleep(self.seconds_per_step)
            on_step(step, request.steps, None)
        return Image.new("RGB", (request.width, request.height), (128, 128, 128))

    def prompt_is_cut(self, request: Any) -> bool:
        return False
