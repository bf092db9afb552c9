#!/usr/bin/python3
"""rel.py -- the reliability run's producer and consumer (stdlib only).

  rel.py produce SOCKET PRODUCER N KEYS
      Puts N records through kinesisd's socket, each with an id, as fast
      as the daemon reads them (back-pressure blocks the writer), then
      flushes and waits for every answer (bounded).  Record i has key
      "k<i % KEYS>" and data content(key, i // KEYS).  Prints records/s
      and the unconfirmed (no answer) and failed (put_failed) counts;
      exit 1 unless both are 0.

  rel.py consume SOCKET CONSUMER N KEYS INTERVAL_MS
      Subscribes, acks every record, and checks each one: its data is
      content(key, n) for its key, and per key the n come in order with
      nothing missing (a record seen again is counted as a duplicate).
      Every INTERVAL_MS (the checkpointer's interval) it reads the lease
      table through the `leases` op and prints "PIT STOP OK" when every
      checkpoint is at or below what was acked on its shard and none moved
      backwards.  Stops once all N records came, unsubscribes (kinesisd
      checkpoints the acked progress) and checks that each lease is at its
      shard's last record.  Exit 1 on any failed check.
"""
import base64
import hashlib
import json
import select
import socket
import sys
import threading
import time


def content(key, n):
    h = hashlib.sha1(("%s:%d" % (key, n)).encode()).hexdigest()
    return ("%s:%08d:%s:%s" % (key, n, h, h + h[:4])).encode()  # 100 bytes


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def produce(path, producer, n, keys):
    s = connect(path)
    t0 = time.time()

    def writer():
        chunk = []
        for i in range(n):
            key = "k%04d" % (i % keys)
            chunk.append('{"op":"put","producer":"%s","key":"%s","data":"%s","id":%d}\n'
                         % (producer, key,
                            base64.b64encode(content(key, i // keys)).decode(), i))
            if len(chunk) == 2000 or i == n - 1:
                s.sendall("".join(chunk).encode())
                chunk = []
        s.sendall(b'{"op":"flush","producer":"%s","id":"flush"}\n' % producer.encode())

    w = threading.Thread(target=writer, daemon=True)
    w.start()
    ok = failed = 0
    errors = {}
    buf = b""
    flushed = False
    deadline = time.time() + 120 + n / 1000
    while not flushed and time.time() < deadline:
        r, _, _ = select.select([s], [], [], 1)
        if not r:
            continue
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        *lines, buf = (buf + chunk).split(b"\n")
        for line in lines:
            if line.startswith(b'{"op":"put_ok"'):
                ok += 1
                continue
            m = json.loads(line)
            if m["op"] == "put_ok":
                ok += 1
            elif m["op"] == "put_failed":
                failed += 1
                errors[m["error"]] = errors.get(m["error"], 0) + 1
            elif m["op"] == "flushed":
                flushed = True
            else:
                print("producer: unexpected %s" % line.decode(), file=sys.stderr)
    dt = time.time() - t0
    unconfirmed = n - ok - failed
    print("producer: %d records put in %.1f s (%.0f records/s); unconfirmed %d, failed %d%s"
          % (n, dt, n / dt, unconfirmed, failed, (" " + json.dumps(errors)) if errors else ""),
          flush=True)
    return 0 if unconfirmed == 0 and failed == 0 else 1


def pos(seq, subseq):
    if seq in ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP", None):
        return (-1, 0)
    if seq == "SHARD_END":
        return (1 << 200, 0)
    return (int(seq), int(subseq))


def consume(path, consumer, n, keys, interval_ms):
    s = connect(path)
    s.sendall(b'{"op":"subscribe","consumer":"%s","id":"sub"}\n' % consumer.encode())
    nxt = {}          # key -> next n expected
    seen = set()
    acked_top = {}    # shard -> highest (seq, subseq) acked
    checkpoints = {}  # shard -> last checkpoint seen
    got = dups = 0
    bad = []
    buf = b""
    t0 = time.time()
    first = None
    next_pit = time.time() + interval_ms / 1000
    pit_pending = None
    pits = 0
    unsub = False
    deadline = time.time() + 300 + n / 1000
    final = None

    def check_leases(m, final_check):
        nonlocal pits
        ok = True
        for l in m["leases"]:
            shard, cp = l["shard"], pos(l["checkpoint"], l.get("subseq", 0))
            if shard in checkpoints and cp < checkpoints[shard]:
                bad.append("checkpoint of %s moved back: %s -> %s" % (shard, checkpoints[shard], cp))
                ok = False
            if l["checkpoint"] not in ("TRIM_HORIZON", "LATEST") and \
                    cp > acked_top.get(shard, (-1, 0)):
                bad.append("checkpoint of %s at %s passes the last ack %s"
                           % (shard, cp, acked_top.get(shard)))
                ok = False
            checkpoints[shard] = cp
        if final_check:
            return ok
        if ok:
            pits += 1
            rate = got / (time.time() - first) if first else 0
            print("PIT STOP OK  %6.1f s  %d records verified, %.0f records/s, checkpoints %s"
                  % (time.time() - t0, got, rate,
                     " ".join("%s@%s" % (l["shard"][-4:], str(l["checkpoint"])[-8:])
                              for l in m["leases"])), flush=True)
        return ok

    while time.time() < deadline:
        now = time.time()
        if now >= next_pit and pit_pending is None and not unsub and first is not None:
            pit_pending = "pit-%d" % pits
            s.sendall(b'{"op":"leases","consumer":"%s","id":"%s"}\n'
                      % (consumer.encode(), pit_pending.encode()))
            next_pit = now + interval_ms / 1000
        r, _, _ = select.select([s], [], [], 0.2)
        if not r:
            continue
        chunk = s.recv(1 << 20)
        if not chunk:
            bad.append("the daemon closed the connection")
            break
        *lines, buf = (buf + chunk).split(b"\n")
        acks = []
        for line in lines:
            m = json.loads(line)
            op = m["op"]
            if op == "record":
                if first is None:
                    first = time.time()
                k = (m["shard"], m["seq"], m["subseq"])
                acks.append('{"op":"ack","consumer":"%s","shard":"%s","seq":"%s","subseq":%d}'
                            % (consumer, m["shard"], m["seq"], m["subseq"]))
                p = pos(m["seq"], m["subseq"])
                if p > acked_top.get(m["shard"], (-1, 0)):
                    acked_top[m["shard"]] = p
                if k in seen:
                    dups += 1
                    continue
                seen.add(k)
                data = base64.b64decode(m["data"])
                key = m["key"]
                try:
                    num = int(data.split(b":")[1])
                except (IndexError, ValueError):
                    bad.append("%s: unreadable data %r" % (k, data[:40]))
                    continue
                if data != content(key, num):
                    bad.append("%s: data of %s/%d is wrong" % (k, key, num))
                want = nxt.get(key, 0)
                if num != want:
                    bad.append("%s: key %s: got n=%d, expected %d (out of order or lost)"
                               % (k, key, num, want))
                nxt[key] = max(want, num + 1)
                got += 1
            elif op == "leases":
                if m.get("id") == "final":
                    final = m
                else:
                    check_leases(m, False)
                    pit_pending = None
            elif op == "unsubscribed":
                s.sendall(b'{"op":"leases","consumer":"%s","id":"final"}\n' % consumer.encode())
            elif op in ("subscribed", "shard_started", "consumer_shutdown"):
                pass
            else:
                print("consumer: event %s" % line.decode()[:200], flush=True)
        if acks:
            s.sendall(("\n".join(acks) + "\n").encode())
        if got >= n and not unsub:
            dt = time.time() - first
            print("consumer: %d records read back in %.1f s (%.0f records/s), %d duplicates"
                  % (got, dt, got / dt, dups), flush=True)
            # Let the checkpointer write the last acks, then leave.
            time.sleep(interval_ms / 1000 + 0.5)
            s.sendall(b'{"op":"unsubscribe","consumer":"%s","id":"unsub"}\n' % consumer.encode())
            unsub = True
        if final is not None:
            break
        if len(bad) > 20:
            break
    if got < n:
        bad.append("only %d of %d records arrived" % (got, n))
    for key in ("k%04d" % j for j in range(keys)):
        want = len(range(int(key[1:]), n, keys))
        if nxt.get(key, 0) != want:
            bad.append("key %s: %d records, expected %d" % (key, nxt.get(key, 0), want))
            break
    if final is not None:
        ok = check_leases(final, True)
        for l in final["leases"]:
            if pos(l["checkpoint"], l.get("subseq", 0)) != acked_top.get(l["shard"]):
                ok = False
                bad.append("after unsubscribe %s is at %s, its last record is %s"
                           % (l["shard"], (l["checkpoint"], l.get("subseq")),
                              acked_top.get(l["shard"])))
        if ok and not bad:
            pits += 1
            print("PIT STOP OK  %6.1f s  final: %d records verified, every lease at its "
                  "shard's last record" % (time.time() - t0, got), flush=True)
    elif got >= n:
        bad.append("no lease table after unsubscribe")
    for b in bad[:20]:
        print("consumer: FAILED: " + b, flush=True)
    if not bad:
        print("consumer: every record's content and per-key order verified; %d pit stops; "
              "final checkpoints at each shard's last record" % pits, flush=True)
    return 1 if bad else 0


def main():
    a = sys.argv[1:]
    if a[0] == "produce":
        sys.exit(produce(a[1], a[2], int(a[3]), int(a[4])))
    if a[0] == "consume":
        sys.exit(consume(a[1], a[2], int(a[3]), int(a[4]), int(a[5])))
    sys.exit(__doc__)


if __name__ == "__main__":
    main()
