#!/bin/sh
# Two subscribers of one consumer split its shards (the second one's
# arrival moves shards over once they have nothing in flight); when one
# closes with records unacked, its shards and those records go to the
# other, and nothing is lost: every record is delivered, and only the
# ones the closed connection had not acked come twice.
. "$(dirname "$0")/../lib/common.sh"

start_kinesalite
start_dynalite
create_stream cons-subs 4
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" cons-subs --plain 2000 \
    --agg 1000 --per-agg 50 >"$T/expected.json" || fail "writing the records"

cat >"$T/kd.yaml" <<YAML
application-name: t-cons-subs
socket: $T/kd.sock
http-listen: ""
log: { level: debug, format: text }
consumers:
  c1:
    stream-name: cons-subs
    worker: { batchTimeoutSeconds: 60 }
    checkpointer: { intervalMillis: 200 }
    kcl: { maxRecords: 50, idleTimeBetweenReadsInMillis: 200 }
YAML
start_kinesisd "$T/kd.yaml"

# A: slow (10 ms a record), small window; closes after 700 records, the
# last 20 of them unacked.
$PY "$TOP/tests/lib/kdconsume.py" "$KD_SOCK" c1 --out "$T/a.jsonl" --mif 20 \
    --delay 0.01 --close-after 700 --ack-first 680 --timeout 120 &
APID=$!
PIDS="$PIDS $APID"
i=0
until [ "$($PY "$TOP/tests/lib/kdcheck.py" count "$T/a.jsonl" shard_started 2>/dev/null)" = 4 ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "A did not get the 4 shards"
	sleep 0.1
done
# B reads on until nothing has come for 5 s after A closed.
$PY "$TOP/tests/lib/kdconsume.py" "$KD_SOCK" c1 --out "$T/b.jsonl" \
    --idle 5 --idle-after "$T/a.closed" --timeout 120 &
BPID=$!
PIDS="$PIDS $BPID"
wait "$APID"
touch "$T/a.closed"
wait "$BPID"

$PY "$TOP/tests/lib/kdcheck.py" delivered "$T/expected.json" "$T/a.jsonl" \
    "$T/b.jsonl" >/dev/null || fail "records lost or wrong"
$PY - "$T" <<'PYEOF' || fail "the shards were not split or not moved"
import json, sys
t = sys.argv[1]
a = [json.loads(l) for l in open(t + "/a.jsonl")]
b = [json.loads(l) for l in open(t + "/b.jsonl")]
bad = []
# What A held at its end: started minus lost.
held = set()
for m in a:
    if m["op"] == "shard_started":
        held.add(m["shard"])
    elif m["op"] == "shard_lost":
        held.discard(m["shard"])
if len(held) != 2:
    bad.append("A held %d shards at its close, want 2 of 4" % len(held))
b_first = [m["shard"] for m in b if m["op"] == "shard_started"]
if len(b_first) != 4 or set(b_first[:2]) & held or set(b_first[2:]) != held:
    bad.append("B's shard_started: %s; A held %s" % (b_first, sorted(held)))
# Only what A did not ack may come twice.
a_acked = {(m["shard"], m["seq"], m["subseq"]) for m in a
           if m["op"] == "record" and m["_acked"]}
a_unacked = {(m["shard"], m["seq"], m["subseq"]) for m in a
             if m["op"] == "record" and not m["_acked"]}
b_recs = [(m["shard"], m["seq"], m["subseq"]) for m in b if m["op"] == "record"]
if len(b_recs) != len(set(b_recs)):
    bad.append("B got duplicates")
if set(b_recs) & a_acked:
    bad.append("B got %d records A had acked" % len(set(b_recs) & a_acked))
if not a_unacked or not a_unacked <= set(b_recs):
    bad.append("A's %d unacked records did not all go to B" % len(a_unacked))
for x in bad:
    print(x, file=sys.stderr)
sys.exit(1 if bad else 0)
PYEOF
note "two subscribers split 4 shards; closing one moves its shards, nothing lost"

kill -TERM "$KD_PID"
wait "$KD_PID" || fail "SIGTERM: kinesisd exited $?"
exit 0
