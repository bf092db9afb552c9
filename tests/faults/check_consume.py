#!/usr/bin/python3
"""check_consume.py -- what a consumer run did, judged from outside.

usage: check_consume.py EXPECTED.json[,MORE.json] LEASES.jsonl ACKLOG... [--complete]
                        [--kills KILLS.jsonl]

EXPECTED.json: {"records": [{"shard","seq","subseq","key","data"}]}, every
record in the stream as its writer put it (kdrecords.py, streamwriter.py).
LEASES.jsonl: leasewatch.py observations of the lease table.
ACKLOG: ackload.py logs (any number, in time order or not).
KILLS.jsonl: optional, one {"t", "leases"} line per kill -9, the table as
read right after the kill.

Checks:
 1. every delivered record is one of EXPECTED, with its key and data;
 2. with --complete, every EXPECTED record was acked at least once
    (nothing acknowledged or unacknowledged is lost);
 3. per shard, the checkpoint never moves backwards;
 4. a checkpoint never passes an unacked record: every record at or below
    a checkpoint seen at time t was acked before t;
 5. duplicates stay within the checkpoint bound: no record at or below a
    checkpoint already written is delivered after it was written, so what
    comes twice is only what was acked after the last checkpoint;
 6. per shard, first deliveries after each kill resume right after the
    checkpoint the killed daemon had written.
Prints one summary line; exit 1 on any violation.
"""
import json
import sys

SENTINEL_LOW = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP", None)


def pos(seq, subseq):
    if seq in SENTINEL_LOW:
        return (-1, 0)
    if seq == "SHARD_END":
        return (1 << 200, 0)
    return (int(seq), int(subseq))


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    args = [x for x in sys.argv[1:]]
    complete = "--complete" in args
    args = [x for x in args if x != "--complete"]
    kills = []
    if "--kills" in args:
        i = args.index("--kills")
        kills = load(args[i + 1])
        del args[i:i + 2]
    expected = []
    for path in args[0].split(","):
        expected += json.load(open(path))["records"]
    obs = load(args[1])
    logs = args[2:]
    want = {}
    byshard = {}
    for r in expected:
        k = (r["shard"], pos(r["seq"], r["subseq"]))
        want[k] = r
        byshard.setdefault(r["shard"], []).append(k[1])
    for v in byshard.values():
        v.sort()
    bad = []
    deliveries = []  # (t, shard, pos)
    first_ack = {}
    for path in logs:
        for m in load(path):
            if m.get("op") != "record":
                continue
            k = (m["shard"], pos(m["seq"], m["subseq"]))
            r = want.get(k)
            if r is None:
                bad.append("%s: unexpected record %s" % (path, k))
                continue
            if m["key"] != r["key"] or m["data"] != r["data"]:
                bad.append("%s: record %s has the wrong key or data" % (path, k))
            deliveries.append((m["t"], k[0], k[1]))
            if "ta" in m and (k not in first_ack or m["ta"] < first_ack[k]):
                first_ack[k] = m["ta"]
    if complete:
        missing = [k for k in want if k not in first_ack]
        if missing:
            bad.append("%d records never acked, e.g. %s" % (len(missing), missing[:3]))
    # 3 and 4
    last = {}
    verified = {}  # shard -> how many of its records are proven acked
    for o in sorted(obs, key=lambda o: o["t"]):
        for shard, (cp, sub, _owner, _counter) in o["leases"].items():
            p = pos(cp, sub)
            if shard in last and p < last[shard]:
                bad.append("checkpoint of %s moved back from %s to %s at %.3f"
                           % (shard, last[shard], p, o["t"]))
            last[shard] = p
            if cp == "SHARD_END":
                continue
            recs = byshard.get(shard, [])
            i = verified.get(shard, 0)
            while i < len(recs) and recs[i] <= p:
                ta = first_ack.get((shard, recs[i]))
                if ta is None or ta > o["t"]:
                    bad.append("checkpoint %s of %s at %.3f passes %s, %s"
                               % (p, shard, o["t"], recs[i],
                                  "never acked" if ta is None else "acked at %.3f" % ta))
                    break
                i += 1
            verified[shard] = i
    # 5
    cps = {}
    for o in obs:
        for shard, (cp, sub, _o, _c) in o["leases"].items():
            cps.setdefault(shard, []).append((o["t"], pos(cp, sub)))
    for v in cps.values():
        v.sort()
    seen = set()
    dups = 0
    ptr, high = {}, {}
    for t, shard, p in sorted(deliveries):
        if (shard, p) in seen:
            dups += 1
        seen.add((shard, p))
        v = cps.get(shard, [])
        i = ptr.get(shard, 0)
        while i < len(v) and v[i][0] < t:
            if v[i][1] > high.get(shard, (-1, 0)):
                high[shard] = v[i][1]
            i += 1
        ptr[shard] = i
        if shard in high and p <= high[shard]:
            bad.append("%s %s delivered at %.3f, at or below checkpoint %s written before"
                       % (shard, p, t, high[shard]))
    # 6
    for kill in kills:
        for shard, (cp, sub, _o, _c) in kill["leases"].items():
            after = sorted((t, p) for (t, s, p) in deliveries if s == shard and t > kill["t"])
            if not after or cp == "SHARD_END":
                continue
            nxt = [q for q in byshard.get(shard, []) if q > pos(cp, sub)]
            if nxt and after[0][1] != nxt[0]:
                bad.append("after the kill at %.3f %s resumed at %s, not at %s (checkpoint %s)"
                           % (kill["t"], shard, after[0][1], nxt[0], (cp, sub)))
    print("  %d records, %d deliveries, %d acked, %d duplicates (all above the "
          "checkpoint then written: %s), %d checkpoint observations, %d kills"
          % (len(want), len(deliveries), len(first_ack), dups,
             "yes" if not bad else "see below", len(obs), len(kills)))
    for b in bad[:20]:
        print("  " + b, file=sys.stderr)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
