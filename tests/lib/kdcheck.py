"""Checks for the consumer's integration tests (stdlib only).

usage:
  kdcheck.py delivered EXPECTED GOT... [--exactly-once] [--only-shards]
      Every record of EXPECTED (kdrecords.py output) was delivered (in the
      kdconsume.py logs GOT...) with the right shard, seq, subseq, key,
      data and ehk, and nothing else was; with --exactly-once, once.
      Per connection and shard, first deliveries come in sequence order,
      after that connection's shard_started.  Prints {shard: [seq, subseq]}
      of the last record of each shard.
  kdcheck.py leases SOCKET CONSUMER LAST
      The `leases` op's checkpoints equal LAST ({shard: [seq, subseq]}).
  kdcheck.py count GOT OP
      Prints how many OP messages GOT holds.
"""
import json
import socket
import sys


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def seqkey(seq, subseq):
    return (len(seq), seq, subseq)


def delivered(args):
    exactly = "--exactly-once" in args
    args = [a for a in args if not a.startswith("--")]
    expected = json.load(open(args[0]))["records"]
    want = {(r["shard"], r["seq"], r["subseq"]): r for r in expected}
    if len(want) != len(expected):
        sys.exit("expected records are not unique")
    count = {}
    bad = []
    for path in args[1:]:
        started = set()
        last = {}
        for m in load(path):
            op = m.get("op")
            if op == "shard_started":
                started.add(m["shard"])
                last.pop(m["shard"], None)
                continue
            if op in ("shard_lost", "shard_ended", "consumer_shutdown",
                      "consumer_failure"):
                started.discard(m["shard"])
                continue
            if op != "record":
                continue
            k = (m["shard"], m["seq"], m["subseq"])
            count[k] = count.get(k, 0) + 1
            if m["shard"] not in started:
                bad.append("%s: record %s before shard_started" % (path, k))
            r = want.get(k)
            if r is None:
                bad.append("%s: unexpected record %s" % (path, k))
                continue
            for f in ("key", "data"):
                if m.get(f) != r[f]:
                    bad.append("%s: %s: %s is %r, want %r" % (path, k, f, m.get(f), r[f]))
            if m.get("ehk") != r.get("ehk"):
                bad.append("%s: %s: ehk is %r, want %r" % (path, k, m.get("ehk"), r.get("ehk")))
            if not isinstance(m.get("ts"), (int, float)) or m["ts"] <= 0:
                bad.append("%s: %s: no ts" % (path, k))
            # A first delivery on this connection must come after the
            # previous one of its shard (redeliveries restart the order).
            if count[k] == 1:
                p = last.get(m["shard"])
                cur = seqkey(m["seq"], m["subseq"])
                if p is not None and cur < p:
                    bad.append("%s: %s out of order" % (path, k))
                last[m["shard"]] = cur
    missing = [k for k in want if k not in count]
    if missing:
        bad.append("%d records never delivered, e.g. %s" % (len(missing), missing[:3]))
    if exactly:
        dup = [k for k, n in count.items() if n > 1]
        if dup:
            bad.append("%d records delivered more than once, e.g. %s" % (len(dup), dup[:3]))
    if bad:
        for b in bad[:20]:
            print(b, file=sys.stderr)
        sys.exit(1)
    lastrec = {}
    for (shard, seq, subseq) in want:
        if shard not in lastrec or seqkey(seq, subseq) > seqkey(*lastrec[shard]):
            lastrec[shard] = (seq, subseq)
    json.dump(lastrec, sys.stdout)


def leases(args):
    path, consumer, lastfile = args
    last = json.load(open(lastfile))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(30)
    s.sendall((json.dumps({"op": "leases", "consumer": consumer, "id": 7}) + "\n").encode())
    buf = b""
    while True:
        while b"\n" not in buf:
            chunk = s.recv(1 << 20)
            if not chunk:
                sys.exit("connection closed")
            buf += chunk
        line, buf = buf.split(b"\n", 1)
        m = json.loads(line)
        if m.get("id") == 7:
            break
    if m.get("op") != "leases":
        sys.exit("leases op failed: %s" % m)
    got = {l["shard"]: l for l in m["leases"]}
    bad = 0
    for shard, (seq, subseq) in last.items():
        l = got.get(shard)
        if l is None or l.get("checkpoint") != seq or l.get("subseq") != subseq:
            print("lease %s: %s, want checkpoint %s subseq %d" % (shard, l, seq, subseq),
                  file=sys.stderr)
            bad += 1
    sys.exit(1 if bad else 0)


def count(args):
    path, op = args
    print(sum(1 for m in load(path) if m.get("op") == op))


if __name__ == "__main__":
    cmd = sys.argv[1]
    {"delivered": delivered, "leases": leases, "count": count}[cmd](sys.argv[2:])
