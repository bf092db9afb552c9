#!/usr/bin/python3
"""ackload.py -- subscribe to a kinesisd consumer, ack everything, log it all.

usage: ackload.py SOCKET CONSUMER LOG [--first FILE] [--timeout S]
                  [--idle S] [--target N] [--prior LOG,...] [--mif N]

Every record is acked as soon as it is read (a read's worth of records in
one write); LOG gets one JSON line per message: records as
{"op":"record","shard","seq","subseq","key","data","t" (received),
"ta" (time the ack was sent)}, other events with "t".  Times are
time.time(), so other tools on this machine can compare them.
Stops when the daemon closes the socket (e.g. kill -9), after --timeout
seconds, after --idle seconds without records once one came, or once
--target distinct records are acked counting those in --prior logs
(then it unsubscribes and reads until "unsubscribed").
--first FILE is touched when the first record arrives.
"""
import argparse
import json
import select
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("consumer")
    ap.add_argument("log")
    ap.add_argument("--first")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--idle", type=float, default=0)
    ap.add_argument("--target", type=int, default=0)
    ap.add_argument("--prior", default="")
    ap.add_argument("--mif", type=int, default=0)
    a = ap.parse_args()
    acked = set()
    for p in [x for x in a.prior.split(",") if x]:
        with open(p) as f:
            for line in f:
                m = json.loads(line)
                if m.get("op") == "record" and "ta" in m:
                    acked.add((m["shard"], m["seq"], m["subseq"]))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(a.socket)
    sub = {"op": "subscribe", "consumer": a.consumer, "id": "sub"}
    if a.mif:
        sub["max_in_flight"] = a.mif
    s.sendall((json.dumps(sub) + "\n").encode())
    log = open(a.log, "a")
    start = time.time()
    last = None
    buf = b""
    leaving = False
    first_seen = False
    while time.time() - start < a.timeout:
        if a.idle and last is not None and time.time() - last > a.idle:
            break
        r, _, _ = select.select([s], [], [], 0.2)
        if not r:
            continue
        try:
            chunk = s.recv(1 << 20)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            log.write(json.dumps({"op": "_eof", "t": time.time()}) + "\n")
            break
        now = time.time()
        *lines, buf = (buf + chunk).split(b"\n")
        out, recs = [], []
        for line in lines:
            m = json.loads(line)
            m["t"] = now
            if m.get("op") == "record" and not leaving:
                recs.append(m)
                out.append(json.dumps({"op": "ack", "consumer": m["consumer"],
                                       "shard": m["shard"], "seq": m["seq"],
                                       "subseq": m["subseq"]}))
            else:
                log.write(json.dumps(m) + "\n")
            if m.get("op") == "unsubscribed":
                leaving = "done"
        if recs:
            last = now
            if a.first and not first_seen:
                open(a.first, "w").close()
                first_seen = True
            ta = time.time()
            try:
                s.sendall(("\n".join(out) + "\n").encode())
            except (BrokenPipeError, ConnectionResetError):
                ta = None
            for m in recs:
                if ta is not None:
                    m["ta"] = ta
                    acked.add((m["shard"], m["seq"], m["subseq"]))
                log.write(json.dumps(m) + "\n")
        log.flush()
        if leaving == "done":
            break
        if a.target and len(acked) >= a.target and not leaving:
            s.sendall(b'{"op":"unsubscribe","consumer":"%s","id":"unsub"}\n'
                      % a.consumer.encode())
            leaving = True
    log.close()
    s.close()


if __name__ == "__main__":
    main()
