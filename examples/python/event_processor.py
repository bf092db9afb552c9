#!/usr/bin/env python3
"""reactive-kinesis's "Event Processor" for kinesisd, in Python.

Receives every record of a consumer, processes it and acks it
(EventProcessed), skips records whose data starts with "skip"
(EventProcessed(successful = false)), and handles the consumer's failure
(ConsumerWorkerFailure) and shutdown (ConsumerShutdown).  When kinesisd
restarts, the library reconnects and subscribes again.

    event_processor.py [-n COUNT] [-t SECONDS] [CONSUMER]

CONSUMER defaults to demo-consumer; the socket is $KINESISD_SOCKET, else
/run/kinesisd/kinesisd.sock.  Stops after COUNT records, or after SECONDS
without anything (exit 1).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                "clients", "python"))

from kinesisd import (Consumer, ConsumerFailure, ConsumerShutdown,  # noqa: E402
                      ErrorEvent, Event, KinesisdError, Reconnected, Record,
                      Shutdown)


def process(record: Record) -> bool:
    """Do some processing here; False to skip the record."""
    print(f"{record.shard} {record.seq}/{record.subseq} key={record.key} "
          f"data={record.data.decode(errors='replace')}", flush=True)
    return not record.data.startswith(b"skip")


def on_event(event: Event) -> None:
    """Everything that is not a record."""
    if isinstance(event, ConsumerFailure):
        # No more records of this shard will come here: depending on the
        # purpose of the service this may be critical.
        print(f"consumer failure on {event.shard}: {len(event.failed)} "
              f"records unconfirmed, the shard stopped here", file=sys.stderr)
    elif isinstance(event, ConsumerShutdown):
        print(f"shard {event.shard} shut down gracefully", file=sys.stderr)
    elif isinstance(event, Shutdown):
        print(f"kinesisd is shutting down ({event.reason})", file=sys.stderr)
    elif isinstance(event, Reconnected):
        print("reconnected; unacked records come again", file=sys.stderr)
    elif isinstance(event, ErrorEvent):
        print(f"refused: {event.code}: {event.message}", file=sys.stderr)
    else:
        print(f"{event.op} {getattr(event, 'shard', '')}", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--count", type=int, default=0)
    ap.add_argument("-t", "--idle", type=float, default=None,
                    help="stop after this many seconds without anything")
    ap.add_argument("consumer", nargs="?", default="demo-consumer")
    args = ap.parse_args()

    done = 0
    try:
        with Consumer(args.consumer, on_event=on_event) as consumer:
            print(f"subscribed to {args.consumer}", file=sys.stderr)
            while not args.count or done < args.count:
                record = consumer.get(timeout=args.idle)
                if record is None:
                    print(f"nothing for {args.idle} s, {done} records",
                          file=sys.stderr)
                    return 1
                assert isinstance(record, Record)  # events go to on_event
                if process(record):
                    record.ack()
                else:
                    record.skip()
                done += 1
    except KinesisdError as e:
        print(f"event_processor: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    print(f"{done} records processed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
