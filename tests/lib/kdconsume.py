"""Subscribe to a kinesisd consumer and log what arrives (stdlib only).

usage: kdconsume.py SOCKET CONSUMER --out FILE [options]

Every message the daemon sends (records and events) is appended to FILE
as one JSON line, with "_t" (seconds since start) added.  Stops when:
  --count N       N distinct records were received (then unsubscribes,
                  or with --stay touches --done FILE and reads on until
                  the daemon closes the connection or the timeout)
  --idle S        nothing arrived for S seconds after the first record
                  (with --idle-after FILE: once FILE exists, too)
  --timeout S     S seconds passed (default 120)
  --close-after N closes the socket abruptly after the N-th record
  --until FILE    FILE exists (checked every 0.2 s): closes the socket
Acks:
  --no-ack            never ack
  --ack-first N       ack only the first N records received
  --hold DATA,...     never ack records whose decoded data is listed
  --late DATA,...     ack these only when they come the second time
  --ack-on N          ack a record only on its N-th delivery (default 1)
  --skip DATA,...     ack these with ok:false
  --mif N             max_in_flight (default: the daemon's)
  --delay S           sleep S seconds per record before acking (a slow app)
  --ready FILE        touch FILE once subscribed
Exit 0 when the stop condition was met, 1 on an error event, 2 on timeout
with --count.
"""
import argparse
import base64
import json
import os
import select
import socket
import sys
import time


class Sub:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.buf = b""

    def send(self, msg):
        self.s.sendall((json.dumps(msg) + "\n").encode())

    def recv(self, timeout):
        end = time.time() + timeout
        while b"\n" not in self.buf:
            left = end - time.time()
            if left <= 0:
                return None
            r, _, _ = select.select([self.s], [], [], left)
            if not r:
                return None
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise EOFError
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def close(self):
        self.s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("consumer")
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--idle", type=float, default=0)
    ap.add_argument("--idle-after", default="")
    ap.add_argument("--until", default="")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--close-after", type=int, default=0)
    ap.add_argument("--no-ack", action="store_true")
    ap.add_argument("--ack-first", type=int, default=-1)
    ap.add_argument("--hold", default="")
    ap.add_argument("--skip", default="")
    ap.add_argument("--late", default="")
    ap.add_argument("--delay", type=float, default=0)
    ap.add_argument("--ack-on", type=int, default=1)
    ap.add_argument("--mif", type=int, default=0)
    ap.add_argument("--ready", default="")
    ap.add_argument("--stay", action="store_true")
    ap.add_argument("--done", default="")
    a = ap.parse_args()
    hold = set(x for x in a.hold.split(",") if x)
    skip = set(x for x in a.skip.split(",") if x)
    late = set(x for x in a.late.split(",") if x)

    sub = Sub(a.socket)
    out = open(a.out, "a")
    msg = {"op": "subscribe", "consumer": a.consumer, "id": 1}
    if a.mif:
        msg["max_in_flight"] = a.mif
    sub.send(msg)
    start = time.time()
    seen = {}  # (shard, seq, subseq) -> deliveries
    received = 0
    last = None
    rc = 0
    unsubscribing = False
    idle_from = None
    while True:
        now = time.time()
        if now - start > a.timeout:
            rc = 2 if a.count and len(seen) < a.count else 0
            break
        if a.until and os.path.exists(a.until):
            break
        if a.idle and last is not None and now - last > a.idle:
            if not a.idle_after:
                break
            if os.path.exists(a.idle_after):
                if idle_from is None:
                    idle_from = now
                if now - max(last, idle_from) > a.idle:
                    break
        try:
            m = sub.recv(0.2)
        except (EOFError, OSError):
            out.write(json.dumps({"op": "_eof", "_t": time.time() - start}) + "\n")
            break
        if m is None:
            continue
        m["_t"] = round(time.time() - start, 3)
        op = m.get("op")
        if op != "record":
            out.write(json.dumps(m) + "\n")
            out.flush()
        if op == "subscribed" and a.ready:
            open(a.ready, "w").close()
        if op == "error":
            rc = 1
            break
        if op == "unsubscribed":
            break
        if op != "record":
            continue
        last = time.time()
        if unsubscribing:
            m["_acked"] = False
            out.write(json.dumps(m) + "\n")
            out.flush()
            continue
        k = (m["shard"], m["seq"], m["subseq"])
        seen[k] = seen.get(k, 0) + 1
        received += 1
        data = base64.b64decode(m["data"]).decode("utf-8", "replace")
        ack = not a.no_ack and data not in hold and seen[k] >= a.ack_on
        if data in late and seen[k] < 2:
            ack = False
        if a.ack_first >= 0 and received > a.ack_first:
            ack = False
        if a.delay:
            time.sleep(a.delay)
        m["_acked"] = ack
        if ack:
            try:
                sub.send({"op": "ack", "consumer": m["consumer"],
                          "shard": m["shard"], "seq": m["seq"],
                          "subseq": m["subseq"], "ok": data not in skip})
            except OSError:
                m["_acked"] = False  # the daemon is gone
                ack = False
        out.write(json.dumps(m) + "\n")
        out.flush()
        if a.close_after and received >= a.close_after:
            break
        if a.count and len(seen) >= a.count and not unsubscribing:
            if a.stay:
                if a.done and not os.path.exists(a.done):
                    open(a.done, "w").close()
                continue
            sub.send({"op": "unsubscribe", "consumer": a.consumer, "id": 2})
            unsubscribing = True
    out.close()
    sub.close()
    sys.exit(rc)


if __name__ == "__main__":
    main()
