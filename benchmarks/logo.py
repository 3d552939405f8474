"""Brand-kit logo benchmark: what a logo adds to the worker's store step per image, at 1024x1024 and 1536x1536.

The store step's encodes without a logo (the PNG with its metadata and the WebP thumbnail, gallery.services) are
the baseline, measured in the same run; with a logo it also composites the kit's logo (brands.logo.composite_logo,
a 512x256 RGBA logo at 15 % of the width, opacity 0.9) and encodes the un-logoed original as a second PNG. The
image is random noise, as the tiny pipeline draws (it compresses slowly, as real pictures do not: an upper bound).
Each figure is the fastest of --runs, run round-robin. No database: the encodes are pure functions.
Usage: python benchmarks/logo.py [--runs 7]
"""

from __future__ import annotations

import argparse
import time

from _setup import configure_without_database, machine


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    configure_without_database()
    import numpy as np
    from PIL import Image

    from brands.logo import composite_logo
    from gallery.services import encode_png, encode_thumbnail

    metadata = {"prompt": "a red teapot on a marble table", "seed": 5, "model": "Tongyi-MAI/Z-Image-Turbo"}
    logo = Image.new("RGBA", (512, 256), (255, 255, 255, 0))
    logo.paste((230, 30, 60, 255), (32, 32, 480, 224))

    def without_logo(image: Image.Image) -> None:
        encode_png(image, metadata)
        encode_thumbnail(image)

    def composite_only(image: Image.Image) -> None:
        composite_logo(image, logo, corner="bottom-right", margin=0.03, scale=0.15, opacity=0.9)

    def with_logo(image: Image.Image) -> None:
        shown = composite_logo(image, logo, corner="bottom-right", margin=0.03, scale=0.15, opacity=0.9)
        encode_png(shown, metadata | {"logo": "composited"})
        encode_thumbnail(shown)
        encode_png(image, metadata)

    print(f"machine: {machine()}")
    for side in (1024, 1536):
        pixels = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
        image = Image.fromarray(pixels, "RGB")
        cases = {
            "store encodes, no logo": without_logo,
            "composite_logo alone": composite_only,
            "store encodes with a logo": with_logo,
        }
        best = {name: float("inf") for name in cases}
        for _ in range(args.runs):
            for name, case in cases.items():
                started = time.perf_counter()
                case(image)
                best[name] = min(best[name], time.perf_counter() - started)
        baseline = best["store encodes, no logo"]
        for name, seconds in best.items():
            print(f"{side}x{side} {name}: {seconds * 1000:.1f} ms ({seconds / baseline:.2f}x the no-logo store)")


if __name__ == "__main__":
    main()
