"""Counters for benchmarks/scale_sim.py, kept per process and written to `<dir>/<pid>.json` twice a second:
database statements by kind (every connection of the process, the store thread's too), and Celery messages
published and received."""

from __future__ import annotations

import collections
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

counts: collections.Counter[str] = collections.Counter()
_lock = threading.Lock()


def _count(key: str) -> None:
    with _lock:
        counts[key] += 1


def _statement_counter(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    _count("db." + (sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"))
    return execute(sql, params, many, context)


def install(directory: str) -> None:
    """Count from now on in this process (call again in a forked child: it gets a file of its own)."""
    from _setup import wrap_every_connection
    from celery.signals import before_task_publish, task_prerun

    wrap_every_connection(_statement_counter, "scale_sim.statements")
    before_task_publish.connect(lambda **_: _count("celery.published"), weak=False, dispatch_uid="scale_sim.pub")
    task_prerun.connect(lambda **_: _count("celery.received"), weak=False, dispatch_uid="scale_sim.recv")
    path = Path(directory) / f"{os.getpid()}.json"

    def write() -> None:
        while True:
            with _lock:
                snapshot = dict(counts)
            path.write_text(json.dumps(snapshot))
            time.sleep(0.5)

    threading.Thread(target=write, name="scale-sim-counters", daemon=True).start()


def totals(directory: str) -> collections.Counter[str]:
    """The sum over every process's file (a process that died keeps its last counts)."""
    total: collections.Counter[str] = collections.Counter()
    for file in Path(directory).glob("*.json"):
        try:
            total.update(json.loads(file.read_text()))
        except (OSError, ValueError):  # being rewritten this instant
            continue
    return total
