"""Waiting for real processes: poll a condition, never sleep a fixed time and hope."""

import time


def wait_until(predicate, timeout=120, message="condition", every=0.05, between=None):
    """The predicate's first truthy value; `between` runs between polls (e.g. what beat would do)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if between:
            between()
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {message}")
