"""The worker's store step per image (#21): an image's PNG (with its metadata) and WebP thumbnail encoded and saved
one after the other, as the store did until b1c3723, against side by side (gallery.services.upload_all, as now), on
local files and on a real S3 server over HTTP (moto's, in its own process, as the tests use), in the same run.

The images are random noise, as the tiny pipeline draws: they compress slowly, so the encodes are an upper bound.
Each figure is the median of --runs, the two ways taking turns. No database.
Usage: python benchmarks/store.py [--runs 15]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

from _setup import configure_without_database, machine


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    configure_without_database()
    import numpy as np
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.test import override_settings
    from PIL import Image

    from gallery.services import encode_png, encode_thumbnail, image_key, upload_all
    from tests.s3 import running_s3_server, s3_storage_settings

    job = SimpleNamespace(owner_id=1, pk=1)  # image_key reads these two only
    metadata = {"prompt": "a red teapot on a marble table", "seed": 5, "model": "Tongyi-MAI/Z-Image-Turbo"}

    def one_after_the_other(name: str, files: dict[str, Callable[[], bytes]]) -> dict[str, str]:
        return {
            suffix: default_storage.save(image_key(job, f"{name}.{suffix}"), ContentFile(encode()))  # type: ignore[arg-type]
            for suffix, encode in files.items()
        }

    def side_by_side(name: str, files: dict[str, Callable[[], bytes]]) -> dict[str, str]:
        return upload_all(job, name, files)  # type: ignore[arg-type]

    ways = {"one after the other": one_after_the_other, "side by side": side_by_side}
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as folder, running_s3_server(Path(folder) / "moto.log") as server:
        server.client().create_bucket(Bucket="zimage-bench-store")
        local = {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": Path(folder) / "media"},
        }
        for label, storage in (
            ("local files", local),
            ("S3 (moto over HTTP)", s3_storage_settings(server.endpoint, "zimage-bench-store")),
        ):
            with override_settings(STORAGES={"default": storage, "staticfiles": local}):
                for side in (256, 1024):
                    pixels = np.random.default_rng(side).integers(0, 256, (side, side, 3), dtype=np.uint8)
                    image = Image.fromarray(pixels, "RGB")
                    files: dict[str, Callable[[], bytes]] = {
                        "png": functools.partial(encode_png, image, metadata),
                        "thumb.webp": functools.partial(encode_thumbnail, image),
                    }
                    seconds: dict[str, list[float]] = {way: [] for way in ways}
                    for _ in range(args.runs + 1):  # the first round warms connections and caches
                        for way, store in ways.items():
                            started = time.perf_counter()
                            store(uuid.uuid4().hex, files)
                            seconds[way].append(time.perf_counter() - started)
                    medians = {way: statistics.median(values[1:]) for way, values in seconds.items()}
                    before, after = medians["one after the other"], medians["side by side"]
                    print(
                        f"{label}, {side}x{side}: one after the other {before * 1000:.1f} ms, side by side "
                        f"{after * 1000:.1f} ms ({after / before:.2f}x)"
                    )


if __name__ == "__main__":
    main()
