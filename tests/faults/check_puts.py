#!/usr/bin/python3
"""check_puts.py -- no put_ok lost: every acknowledged record is in the stream.

usage: check_puts.py USERS.json LOAD.json... [--all-answered]
                     [--allow CODE,...] [--expect CODE]

USERS.json: the stream read back by read_stream.py and split by
deagg_all.js (aws-kinesis-agg), independently of kinesisd.
LOAD.json: putload.py outputs.  Checks that
  - every put_ok's (shard, seq, subseq) holds exactly that record's key and
    data (nothing acknowledged was lost or misplaced);
  - with --all-answered, every put sent got an answer;
  - every put_failed has an error code in --allow (none by default);
  - with --expect CODE, at least one put_failed has that code.
Prints one summary line; exit 1 on any violation.
"""
import base64
import json
import sys


def main():
    args = sys.argv[1:]
    opts = {"--allow": "", "--expect": ""}
    flags = set()
    files = []
    i = 0
    while i < len(args):
        if args[i] in opts:
            opts[args[i]] = args[i + 1]
            i += 2
        elif args[i].startswith("--"):
            flags.add(args[i])
            i += 1
        else:
            files.append(args[i])
            i += 1
    allow = set(c for c in opts["--allow"].split(",") if c)
    users = json.load(open(files[0]))
    at = {}
    copies = {}
    for u in users:
        data = base64.b64decode(u["data"]).decode("utf-8", "replace")
        at[(u["shard"], u["seq"], u["subseq"])] = (u["key"], data)
        copies[(u["key"], data)] = copies.get((u["key"], data), 0) + 1
    bad = []
    sent = ok = unanswered = 0
    failed = {}
    for path in files[1:]:
        d = json.load(open(path))
        for rid, (key, text) in d["sent"].items():
            sent += 1
            m = d["results"].get(rid)
            if m is None:
                unanswered += 1
                continue
            if m["op"] == "put_ok":
                ok += 1
                got = at.get((m["shard"], m["seq"], m["subseq"]))
                if got != (key, text):
                    bad.append("%s: put_ok %s/%s/%s holds %r, want %r"
                               % (rid, m["shard"], m["seq"], m["subseq"], got, (key, text)))
            elif m["op"] == "put_failed":
                failed[m["error"]] = failed.get(m["error"], 0) + 1
                if m["error"] not in allow:
                    bad.append("%s: put_failed %s: %s" % (rid, m["error"], m.get("message")))
            else:
                bad.append("%s: unexpected answer %r" % (rid, m))
    if "--all-answered" in flags and unanswered:
        bad.append("%d puts never answered" % unanswered)
    if opts["--expect"] and not failed.get(opts["--expect"]):
        bad.append("no put_failed with %s" % opts["--expect"])
    dups = sum(n - 1 for n in copies.values() if n > 1)
    print("  %d sent, %d put_ok (all in the stream: %s), failed %s, %d unanswered, "
          "%d duplicate copies in the stream"
          % (sent, ok, "yes" if not bad else "NO", failed or "none", unanswered, dups))
    for b in bad[:20]:
        print("  " + b, file=sys.stderr)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
