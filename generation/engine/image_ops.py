"""Image operations around the diffusion call, for jobs that start from the customer's image. No torch here.

(The lead wrote `denoising_steps` first so submit can store an exact progress total; the engine helper owns
this module and extends it: masks, paste-back, the outpaint canvas, upscale tiles.)
"""

from __future__ import annotations

import math

from .job_input import JobInput, JobMode

# Upscale refinement tiles: within what both models draw well, overlapping so their blend hides the seams.
UPSCALE_TILE = 1024
UPSCALE_TILE_OVERLAP = 128


def steps_from_strength(steps: int, strength: float) -> int:
    """The denoising steps an image-to-image or inpaint pipeline runs (diffusers' get_timesteps)."""
    start = int(max(steps - min(steps * strength, steps), 0))
    return steps - start


def tiles_along(side: int) -> int:
    if side <= UPSCALE_TILE:
        return 1
    return math.ceil((side - UPSCALE_TILE_OVERLAP) / (UPSCALE_TILE - UPSCALE_TILE_OVERLAP))


def denoising_steps(job: JobInput) -> int:
    """The step callbacks the whole job makes (every image, every tile): the job's exact progress total."""
    if job.mode == JobMode.TEXT:
        return job.steps * job.num_images
    if job.mode == JobMode.OUTPAINT:
        return job.steps * job.num_images
    if job.mode == JobMode.UPSCALE:
        return tiles_along(job.width) * tiles_along(job.height) * steps_from_strength(job.steps, job.strength)
    return steps_from_strength(job.steps, job.strength) * job.num_images
