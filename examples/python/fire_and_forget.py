#!/usr/bin/env python3
"""reactive-kinesis's "Send" (fire and forget) for kinesisd, in Python.

One record per line of standard input, no result asked for.  At the end,
flush() waits until kinesisd has sent them all; refusals (a bad key, an
unknown producer) come to the on_error callback.

    printf 'a\\nb\\n' | fire_and_forget.py [PRODUCER]

PRODUCER defaults to demo-producer; the socket is $KINESISD_SOCKET, else
/run/kinesisd/kinesisd.sock.  Exit 0 when nothing was refused.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                "clients", "python"))

from kinesisd import KinesisdError, Producer, Refused  # noqa: E402


def main() -> int:
    name = sys.argv[1] if len(sys.argv) > 1 else "demo-producer"
    refused: list[Refused] = []
    sent = 0
    try:
        with Producer(producer=name, on_error=refused.append) as producer:
            for line in sys.stdin:
                producer.put_forget(f"line-{sent}", line.rstrip("\n"))
                sent += 1
            producer.flush()
    except KinesisdError as e:
        print(f"fire_and_forget: {e}", file=sys.stderr)
        return 1
    for e in refused:
        print(f"refused: {e}", file=sys.stderr)
    print(f"{sent - len(refused)} records sent, {len(refused)} refused",
          file=sys.stderr)
    return 0 if not refused else 1


if __name__ == "__main__":
    sys.exit(main())
