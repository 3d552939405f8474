"""Image-input jobs on the tiny pipelines: a job record, its stored images and the process's tiny backend."""

import numpy as np
import pytest
from PIL import Image

from generation.engine.job_input import JobInput
from generation.engine.models_catalog import SDXL, Z_IMAGE_TURBO

# (model, scheduler, guidance): each model as its templates run it, classifier-free guidance included for SDXL.
MODEL_SETTINGS = {
    Z_IMAGE_TURBO: {"model": Z_IMAGE_TURBO, "scheduler": "FlowMatchEulerDiscrete", "guidance": 0.0},
    SDXL: {"model": SDXL, "scheduler": "EulerDiscrete", "guidance": 5.0, "negative_prompt": "blurry"},
}


def job_input(**fields) -> JobInput:
    """A one-image, four-step 256x192 text job on Z-Image; `fields` override any JobInput field."""
    values = dict(
        production_path="fashion",
        prompt="a red teapot on a marble table",
        negative_prompt="",
        model=Z_IMAGE_TURBO,
        scheduler="FlowMatchEulerDiscrete",
        steps=4,
        guidance=0.0,
        width=256,
        height=192,
        num_images=1,
        seed=3,
        workflow=[],
        credit_cost=1,
    )
    return JobInput(**(values | fields))


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A smooth picture (blurred colour blobs), so neighbouring pixels relate as in a photograph."""
    cells = np.random.RandomState(seed).randint(0, 256, size=(max(2, height // 32), max(2, width // 32), 3))
    return Image.fromarray(cells.astype(np.uint8), "RGB").resize((width, height), Image.Resampling.BICUBIC)


@pytest.fixture(scope="module")
def backend():
    """The process's backend, as the generation and upscale nodes get it (tiny under the test settings)."""
    from generation.engine.diffusion import get_backend

    return get_backend()
