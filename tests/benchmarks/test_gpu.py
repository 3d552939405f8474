"""benchmarks/gpu.py runs: --random-weights --smoke draws both models through the backend and the worker path on the
CPU (tiny pipelines, 256 px) and reports every figure; the real-size part needs a GPU and is not run here."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from generation.engine.diffusion.pool import GIB, REAL_COMPONENT_BYTES
from generation.engine.models_catalog import SDXL, Z_IMAGE_TURBO

ROOT = Path(__file__).resolve().parents[2]


def test_the_smoke_run_reports_each_model_direct_and_through_the_worker_path(tmp_path):
    out = tmp_path / "gpu.json"
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}  # its own zimage_bench_ db
    run = subprocess.run(
        [sys.executable, "benchmarks/gpu.py", "--random-weights", "--smoke", "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["device"] == "cpu"
    assert report["real_sizes_gib"] == {
        model: round(sum(sizes.values()) / GIB, 2) for model, sizes in REAL_COMPONENT_BYTES.items()
    }
    rows = {row["model"]: row for row in report["rows"]}
    assert set(rows) == {Z_IMAGE_TURBO, SDXL}
    for model, row in rows.items():
        assert row["jobs"] == row["jobs_succeeded"] == 2  # every queued job went through claim .. ledger
        assert row["direct_s_per_image"] > 0 and row["product_s_per_image"] > 0
        assert row["ratio"] == pytest.approx(row["product_s_per_image"] / row["direct_s_per_image"], rel=0.01)
        assert row["resident"] == [model]  # the model before it was released first: one at a time
        assert row["peak_vram_gib"] is None and row["gpu_util_product_pct"] is None  # no GPU here: not invented
    assert rows[SDXL]["steps"] == 20 and rows[Z_IMAGE_TURBO]["steps"] == 4
    assert "direct" in run.stdout and "worker path" in run.stdout
