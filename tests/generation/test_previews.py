"""Live previews: a linear latent-to-RGB map, small and cheap, and never an error that reaches the job."""

import base64
import io
import subprocess
import sys
import time

import pytest
import torch
from PIL import Image

from generation.engine.latent_previews import LATENT_RGB_FACTORS, latents_to_rgb, preview_from_latents


def decode(data_url: str) -> Image.Image:
    header, _, payload = data_url.partition(",")
    assert header == "data:image/webp;base64"
    image = Image.open(io.BytesIO(base64.b64decode(payload)))
    image.load()
    return image


@pytest.mark.parametrize("channels", [16, 4])
def test_latents_become_a_webp_data_url_one_pixel_per_latent(channels):
    image = decode(preview_from_latents(torch.randn(1, channels, 32, 24)))
    assert (image.format, image.mode, image.size) == ("WEBP", "RGB", (24, 32))


@pytest.mark.parametrize(("shape", "size"), [((1, 16, 128, 96), (96, 128)), ((4, 256, 128), (64, 128))])
def test_a_preview_is_at_most_128_pixels_on_its_longest_side(shape, size):
    assert decode(preview_from_latents(torch.randn(*shape))).size == size


def test_each_channel_adds_its_row_of_the_matrix_to_the_bias():
    factors, bias = LATENT_RGB_FACTORS[16]
    latents = torch.zeros(16, 2, 2)
    latents[4] = 1.0
    assert latents_to_rgb(latents)[0, 0].tolist() == [round((b + f + 1) * 127.5) for b, f in zip(bias, factors[4])]
    assert latents_to_rgb(torch.zeros(16, 2, 2))[1, 1].tolist() == [round((b + 1) * 127.5) for b in bias]


def test_latents_without_a_known_map_give_no_preview_rather_than_an_error():
    assert preview_from_latents(torch.randn(1, 7, 8, 8)) is None
    assert preview_from_latents(torch.randn(8, 8)) is None
    assert preview_from_latents(None) is None


def test_a_preview_of_a_1024_pixel_image_takes_milliseconds():
    latents = torch.randn(1, 16, 128, 128)
    preview_from_latents(latents)
    started = time.perf_counter()
    for _ in range(10):
        preview_from_latents(latents)
    assert (time.perf_counter() - started) / 10 < 0.05


def test_importing_the_module_does_not_import_torch():
    probe = "import sys, generation.engine.latent_previews; print('torch' in sys.modules or 'numpy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "False"
