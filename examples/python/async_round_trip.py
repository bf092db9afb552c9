#!/usr/bin/env python3
"""The asyncio side of the Python client: AsyncProducer puts COUNT records
at once and waits for every result, AsyncConsumer reads them back and
acks each.

    async_round_trip.py [-n COUNT] [PRODUCER CONSUMER]

Defaults: 20 records, demo-producer, demo-consumer (which must read the
producer's stream); the socket is $KINESISD_SOCKET, else
/run/kinesisd/kinesisd.sock.  Exit 0 when every record came back.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                "clients", "python"))

from kinesisd import (AsyncConsumer, AsyncProducer, ConsumerFailure,  # noqa: E402
                      Event, Record)


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--count", type=int, default=20)
    ap.add_argument("producer", nargs="?", default="demo-producer")
    ap.add_argument("consumer", nargs="?", default="demo-consumer")
    args = ap.parse_args()

    run = uuid.uuid4().hex[:8]
    async with AsyncProducer(producer=args.producer) as producer:
        results = await asyncio.gather(*(
            producer.put(f"{run}-{i}", f"async {run} {i}".encode())
            for i in range(args.count)))
    print(f"{len(results)} records put, the first in {results[0].shard}",
          file=sys.stderr)

    def on_event(event: Event) -> None:
        if isinstance(event, ConsumerFailure):
            print(f"consumer failure on {event.shard}", file=sys.stderr)

    wanted = {f"async {run} {i}" for i in range(args.count)}
    async with AsyncConsumer(args.consumer, on_event=on_event) as consumer:
        while wanted:
            record = await consumer.get(timeout=60)
            if record is None:
                print(f"{len(wanted)} records did not come back",
                      file=sys.stderr)
                return 1
            assert isinstance(record, Record)
            wanted.discard(record.text)
            record.ack()
    print("every record came back", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
