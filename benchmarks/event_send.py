"""One job event's cost to its publisher (issue #21): numbered and sent to its two groups through the channel
layer's own group_send (a Redis round trip for the number, then two to four per group) or through events.SEND_EVENT
(one script call for all of it), alternately in the same run. The owner's group has one socket's channel, the
job's group none (nobody has the job's page open), as for most events a worker publishes.
Usage: python benchmarks/event_send.py [--events 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

from _setup import configure, machine


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    configure("event_send", redis_db=8)
    import redis
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer
    from django.conf import settings

    from generation import events

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(events.user_group(1), channel)
    client = redis.Redis.from_url(settings.REDIS_URL)
    print(f"machine: {machine()}")
    print(f"{args.events} job.progress events a round, {args.rounds} rounds per way, alternating")
    results: dict[str, list[tuple[float, float]]] = {"group_send": [], "one script": []}
    for round_number in range(args.rounds + 1):  # the first round of each way warms up
        for way, direct in (("group_send", False), ("one script", True)):
            layer._zimage_direct = direct
            job = SimpleNamespace(pk=10_000 + round_number, owner_id=1, status="running", production_path="fashion")
            publisher = events.get_publisher()
            wall, cpu = time.perf_counter(), time.process_time()
            for step in range(args.events):
                events.publish(job, "job.progress", step=step, total=args.events, percent=0, eta_seconds=None)
            assert publisher.flush(timeout=120)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if round_number:
                results[way].append((wall / args.events, cpu / args.events))
            client.delete(*client.keys(f"{layer.prefix}specific*") or ["-"])  # under the socket's capacity
    for way, figures in results.items():
        walls = ", ".join(f"{1000 * wall:.3f}" for wall, _ in figures)
        cpus = ", ".join(f"{1000 * cpu:.3f}" for _, cpu in figures)
        print(f"{way}: per event, one job's events in order: wall {walls} ms; publishing process CPU {cpus} ms")


if __name__ == "__main__":
    main()
