"""A Celery worker whose pipeline sleeps (benchmarks/_sleep_backend.py) and counts (benchmarks/_sim_counters.py).

Usage (benchmarks/scale_sim.py starts it):
    python benchmarks/_sim_worker.py SECONDS_PER_STEP COUNTERS_DIR <celery worker args>
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    seconds_per_step, counters_dir, *celery_args = sys.argv[1:]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from _sim_counters import install
    from _sleep_backend import SleepBackend
    from celery.signals import worker_process_init

    from generation.engine import diffusion
    from zimage.celery import app

    # Set before the pool forks: warm_up's get_backend() in each pool process finds it and builds no other.
    diffusion._backend = SleepBackend(float(seconds_per_step))  # type: ignore[assignment]
    worker_process_init.connect(lambda **_: install(counters_dir), weak=False, dispatch_uid="scale_sim.counters")
    app.worker_main(["worker", *celery_args])


if __name__ == "__main__":
    main()
