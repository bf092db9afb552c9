#!/usr/bin/env python3
"""reactive-kinesis's "SendWithCallback" producer for kinesisd, in Python.

Sends records each with a message id and a callback, and reports
"Successfully sent <id>" (SendSuccessful) or "Failed to send <id>"
(SendFailed) as each result comes.

    producer.py [-n COUNT] [PRODUCER]

Sends COUNT records (default 10) through PRODUCER (default demo-producer);
the socket is $KINESISD_SOCKET, else /run/kinesisd/kinesisd.sock.  Exit 0
when every record was sent.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import sys
import threading
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                "clients", "python"))

from kinesisd import KinesisdError, Producer, PutResult  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--count", type=int, default=10)
    ap.add_argument("producer", nargs="?", default="demo-producer")
    args = ap.parse_args()

    lock = threading.Lock()
    counts = {"ok": 0, "failed": 0}

    def callback(message_id: str):
        def done(fut: concurrent.futures.Future[PutResult]) -> None:
            exc = fut.exception()
            with lock:
                if exc is None:
                    r = fut.result()
                    print(f"Successfully sent {message_id} "
                          f"({r.shard} {r.seq}/{r.subseq})", flush=True)
                    counts["ok"] += 1
                else:
                    print(f"Failed to send {message_id}, cause: {exc}",
                          flush=True)
                    counts["failed"] += 1
        return done

    try:
        with Producer(producer=args.producer) as producer:
            for i in range(args.count):
                message_id = str(uuid.uuid4())
                # ProducerEvent(UUID, payload): the id is also the key.
                fut = producer.put_async(message_id, f"{{Some Payload {i}}}")
                fut.add_done_callback(callback(message_id))
            producer.flush()  # every callback has run
    except KinesisdError as e:
        print(f"producer: {e}", file=sys.stderr)
        return 1
    print(f"{counts['ok']} sent, {counts['failed']} failed", file=sys.stderr)
    return 0 if counts["ok"] == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
