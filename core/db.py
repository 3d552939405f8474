"""Database helpers below every app."""

from __future__ import annotations

from django.db import connection


def commit_without_waiting_for_the_disk() -> None:
    """Inside a transaction: its COMMIT returns before PostgreSQL has flushed its WAL to the disk (an fsync: 1-4 ms
    on this project's 2-core machines, most of a short transaction's time). PostgreSQL's `synchronous_commit = off`
    for this transaction only; elsewhere a no-op.

    Only for a transaction whose loss is recoverable: a crash of the database can lose the last fraction of a
    second of such commits, never corrupt or reorder them, and any later ordinary commit flushes them first."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
