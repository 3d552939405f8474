"""Credit reservations per second under 20 concurrent threads on PostgreSQL, and the ledger check after.

Creates its own database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/zimage_bench_credits),
migrates it, runs two scenarios and drops it:
  - one account shared by all threads (every reservation waits for the same row lock: the worst case);
  - one account per thread (reservations of different users proceed in parallel).
Each reservation is `generation.credits.admit_job`, what every submit runs inside its transaction: the plan's
checks, then lock the user row, insert a ledger row, move the cached balance. Afterwards every account's ledger
sum must equal its cached balance.

    .venv/bin/python benchmarks/credits.py [--threads 20] [--per-thread 100] [--keep]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/zimage_bench_credits")


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def setup_django() -> None:
    os.environ["DATABASE_URL"] = DATABASE_URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zimage.settings")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    os.environ.setdefault("SECRET_KEY", "benchmark-only")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_jobs(user, count: int) -> list:
    from generation.models import GenerationJob

    return GenerationJob.objects.bulk_create(
        GenerationJob(
            owner=user,
            prompt="benchmark",
            model="Tongyi-MAI/Z-Image-Turbo",
            scheduler="FlowMatchEulerDiscrete",
            steps=1,
            guidance=0.0,
            width=256,
            height=256,
            seed=n,
            credit_cost=1,
            # Finished rows: admit_job counts the owner's queued and running jobs against the plan, and the
            # benchmark measures the reservation write, not that limit.
            status="succeeded",
        )
        for n in range(count)
    )


def run_scenario(name: str, users: list, threads: int, per_thread: int) -> float:
    from django.db import connection, transaction

    from generation.credits import admit_job

    work = []
    for i in range(threads):
        user = users[i % len(users)]
        work.append((user, make_jobs(user, per_thread)))
    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def reserve_all(user, jobs):
        try:
            barrier.wait()
            for job in jobs:
                with transaction.atomic():
                    admit_job(user=user, job=job)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    pool = [threading.Thread(target=reserve_all, args=item) for item in work]
    for thread in pool:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{name}: {len(errors)} thread(s) failed, first: {errors[0]!r}")
    total = threads * per_thread
    rate = total / elapsed
    print(f"{name}: {total} reservations in {elapsed:.2f} s with {threads} threads -> {rate:,.0f} reservations/s")
    return rate


def check_ledgers(users: list, expected_reserved: dict[int, int]) -> None:
    from django.db.models import Sum

    from accounts.models import CreditEntry, User

    for user in User.objects.filter(pk__in=[user.pk for user in users]):
        totals = CreditEntry.objects.filter(user=user).aggregate(
            available=Sum("amount"), reserved=Sum("reserved_change")
        )
        ledger = (totals["available"] or 0, totals["reserved"] or 0)
        cached = (user.credit_balance, user.credits_reserved)
        if ledger != cached or user.credit_balance < 0 or user.credits_reserved != expected_reserved[user.pk]:
            raise SystemExit(f"ledger mismatch for {user.email}: ledger {ledger}, cached {cached}")
    print(f"ledger check: sum(ledger) == cached balance and reserved for all {len(users)} accounts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--per-thread", type=int, default=100)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    args = parser.parse_args()

    recreate_database(DATABASE_URL)
    try:
        setup_django()
        from accounts.models import User
        from accounts.services import grant_credits

        def account(email: str, credits: int) -> User:
            user = User.objects.create_user(email=email, password=None)
            grant_credits(user=user, amount=credits, reason="benchmark", idempotency_key=f"bench:{email}")
            return user

        total = args.threads * args.per_thread
        shared = [account("shared@bench.local", total)]
        hot = run_scenario("one shared account", shared, args.threads, args.per_thread)
        separate = [account(f"user{n}@bench.local", args.per_thread) for n in range(args.threads)]
        spread = run_scenario("one account per thread", separate, args.threads, args.per_thread)
        expected = {shared[0].pk: total} | {user.pk: args.per_thread for user in separate}
        check_ledgers(shared + separate, expected)
        print(f"RESULT reservations/s, {args.threads} threads: shared account {hot:,.0f}, per-thread {spread:,.0f}")
    finally:
        from django.conf import settings

        if settings.configured:
            from django.db import connections

            connections.close_all()
        if not args.keep:
            drop_database(DATABASE_URL)


if __name__ == "__main__":
    main()
