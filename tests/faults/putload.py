#!/usr/bin/python3
"""putload.py -- put records through kinesisd's socket and keep every answer.

usage: putload.py SOCKET OUT.json [--producer P] [--prefix X] [--rate R]
                  [--seconds S] [--phases FILE --proxy URL] [--drain S]

Sends puts with ids ("X-<n>") at about R per second, reading answers as
they come.  Without --phases it runs for S seconds; with --phases (a JSON
list of {"name", "seconds", "rules", "expect"?}) it installs each phase's
rules in the fault proxy at URL, puts for that long, clears the faults,
and then measures recovery: a probe put must come back put_ok (the time it
took is kept).  After the last phase (or when the daemon goes away, e.g.
after kill -9) it waits up to --drain seconds for the answers still due.

OUT.json: {"sent": {id: [key, text]}, "results": {id: reply},
           "phases": [{name, first, last, injected, recovery_ms}],
           "eof": bool}
Exit 0 unless the socket could not be used at all.
"""
import argparse
import json
import os
import select
import socket
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))


def proxy(url, method, path, body=None):
    req = urllib.request.Request(url + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


class Load:
    def __init__(self, a):
        self.a = a
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(a.socket)
        self.s.setblocking(False)
        self.buf = b""
        self.out = b""
        self.n = 0
        self.sent = {}
        self.results = {}
        self.eof = False

    def pump(self, timeout):
        """Writes what is queued, reads what came; False once at EOF."""
        if self.eof:
            return False
        w = [self.s] if self.out else []
        r, w, _ = select.select([self.s], w, [], timeout)
        try:
            if w:
                n = self.s.send(self.out)
                self.out = self.out[n:]
            if r:
                chunk = self.s.recv(1 << 20)
                if not chunk:
                    self.eof = True
                    return False
                self.buf += chunk
        except (BrokenPipeError, ConnectionResetError):
            self.eof = True
            return False
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            m = json.loads(line)
            if "id" in m:
                self.results[m["id"]] = m
        return True

    def put(self):
        i = self.n
        self.n += 1
        rid = "%s-%d" % (self.a.prefix, i)
        key = "%s-key-%d" % (self.a.prefix, i)
        text = "%s record %d %s" % (self.a.prefix, i, "x" * (i % 50))
        self.sent[rid] = [key, text]
        self.out += (json.dumps({"op": "put", "producer": self.a.producer,
                                 "key": key, "text": text, "id": rid}) + "\n").encode()
        return rid

    def run_for(self, seconds):
        start = time.time()
        sent = 0
        while not self.eof:
            now = time.time()
            if now - start >= seconds:
                break
            due = int((now - start) * self.a.rate) - sent
            for _ in range(min(due, 200)):
                self.put()
                sent += 1
            self.pump(0.002)

    def wait_for(self, rid, limit):
        end = time.time() + limit
        while rid not in self.results and time.time() < end and not self.eof:
            self.pump(0.05)
        return self.results.get(rid)

    def drain(self, limit):
        end = time.time() + limit
        while len(self.results) < len(self.sent) and time.time() < end:
            if not self.pump(0.1):
                break


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("out")
    ap.add_argument("--producer", default="p")
    ap.add_argument("--prefix", default="r")
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--phases")
    ap.add_argument("--proxy")
    ap.add_argument("--drain", type=float, default=60)
    ap.add_argument("--recovery-limit", type=float, default=15)
    a = ap.parse_args()
    ld = Load(a)
    phases = []
    if a.phases:
        for ph in json.load(open(a.phases)):
            if ld.eof:
                break
            proxy(a.proxy, "PUT", "/_fault/rules", {"rules": ph["rules"]})
            first = ld.n
            ld.run_for(ph["seconds"])
            st = proxy(a.proxy, "GET", "/_fault/stats")
            proxy(a.proxy, "POST", "/_fault/clear")
            t0 = time.time()
            probe = ld.put()
            m = ld.wait_for(probe, a.recovery_limit)
            rec = {"name": ph["name"], "first": first, "last": ld.n - 1,
                   "injected": sum(r["hits"] for r in st["rules"]),
                   "partial_failed": st["partial_failed"],
                   "probe": probe,
                   "recovery_ms": round((time.time() - t0) * 1000)
                   if m is not None and m.get("op") == "put_ok" else None}
            phases.append(rec)
            print("  phase %-14s %5d puts, %4d faults injected, probe put_ok after %s ms"
                  % (ph["name"], ld.n - first, rec["injected"], rec["recovery_ms"]),
                  flush=True)
    else:
        ld.run_for(a.seconds)
    ld.drain(a.drain)
    with open(a.out, "w") as f:
        json.dump({"sent": ld.sent, "results": ld.results, "phases": phases,
                   "eof": ld.eof}, f)


if __name__ == "__main__":
    main()
