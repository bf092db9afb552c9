#!/bin/sh
# Resharding by merge (the other half of t_consumer_kinesis_local.sh's
# split): `aws kinesis merge-shards` closes two parents into one child
# whose lease names both (parentShardId, as the KCL writes it).  The child
# is not read before BOTH parents are processed to SHARD_END and
# checkpointed there; every record arrives once, parents' before the
# child's; the child's checkpoint then moves.
. "$(dirname "$0")/../lib/common.sh"

P0=shardId-000000000000
P1=shardId-000000000001
CH=shardId-000000000002

start_kinesalite
start_dynalite
create_stream mg 2
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" mg --plain 20 \
    --prefix parent- >"$T/parent.json" || fail "writing to the parents"

cat >"$T/kd.yaml" <<YAML
application-name: t-merge
socket: $T/kd.sock
http-listen: ""
log: { level: debug, format: text }
consumers:
  m:
    stream-name: mg
    checkpointer: { intervalMillis: 200 }
    kcl: { idleTimeBetweenReadsInMillis: 200, shardSyncIntervalMillis: 1000,
           workerId: t-merge-1 }
YAML
start_kinesisd "$T/kd.yaml"
$PY "$TOP/tests/lib/kdconsume.py" "$KD_SOCK" m --out "$T/m.jsonl" \
    --count 30 --stay --done "$T/m.done" --timeout 90 &
PIDS="$PIDS $!"

i=0
until [ "$(cat "$T/m.jsonl" 2>/dev/null | grep -c '"record"')" -ge 20 ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "the parents' records did not come"
	sleep 0.1
done
aws_kinesis merge-shards --stream-name mg --shard-to-merge $P0 \
    --adjacent-shard-to-merge $P1 || fail "merge-shards"
aws_kinesis wait stream-exists --stream-name mg || fail "stream not active"
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" mg --plain 10 \
    --prefix child- >"$T/child.json" || fail "writing to the child"
i=0
while [ ! -f "$T/m.done" ]; do
	i=$((i + 1))
	[ $i -lt 600 ] || fail "got $(grep -c '"record"' "$T/m.jsonl") of 30 records"
	sleep 0.1
done
$PY - "$T" <<'PYEOF' || fail "the merge was not followed"
import json, sys
t = sys.argv[1]
msgs = [json.loads(l) for l in open(t + "/m.jsonl")]
ops = [(m["op"], m.get("shard")) for m in msgs]
want = {(r["shard"], r["seq"]) for f in ("parent", "child")
        for r in json.load(open("%s/%s.json" % (t, f)))["records"]}
got = [(m["shard"], m["seq"]) for m in msgs if m["op"] == "record"]
bad = []
if len(got) != len(set(got)) or set(got) != want:
    bad.append("records: %d delivered, %d distinct, %d expected"
               % (len(got), len(set(got)), len(want)))
child = [i for i, m in enumerate(msgs)
         if m["op"] == "record" and m["shard"] == "shardId-000000000002"]
for p in ("shardId-000000000000", "shardId-000000000001"):
    if ("shard_ended", p) not in ops:
        bad.append("no shard_ended for " + p)
        continue
    last = max(i for i, m in enumerate(msgs)
               if m["op"] == "record" and m["shard"] == p)
    if child and min(child) < last:
        bad.append("the child's records before %s's last one" % p)
    if ("shard_started", "shardId-000000000002") in ops and \
            ops.index(("shard_started", "shardId-000000000002")) < last:
        bad.append("the child started before %s's last record" % p)
if len(child) != 10:
    bad.append("%d child records" % len(child))
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
PYEOF
note "both parents ended before the child was read; every record once"

# The lease table, as a KCL worker would read it.
i=0
while :; do
	aws_dynamodb scan --table-name t-merge-mg --consistent-read \
	    --output json >"$T/table.json" || fail "scan"
	$PY - "$T/table.json" <<'PYEOF' && break
import json, sys
items = {i["leaseKey"]["S"]: i for i in json.load(open(sys.argv[1]))["Items"]}
c = items.get("shardId-000000000002")
assert c is not None, "no lease for the child"
assert sorted(c["parentShardId"]["SS"]) == ["shardId-000000000000",
                                          "shardId-000000000001"], c
for p in ("shardId-000000000000", "shardId-000000000001"):
    # Ended at SHARD_END, or already cleaned up once the child began.
    if p in items:
        assert items[p]["checkpoint"]["S"] == "SHARD_END", items[p]
        assert items[p]["childShardIds"]["SS"] == ["shardId-000000000002"], items[p]
cp = c["checkpoint"]["S"]
sys.exit(0 if cp[0].isdigit() else 1)
PYEOF
	i=$((i + 1))
	[ $i -lt 50 ] || fail "the child's checkpoint did not move: $(cat "$T/table.json")"
	sleep 0.2
done
note "child lease with both parents; its checkpoint moved"

kill -TERM "$KD_PID"
wait "$KD_PID" || fail "SIGTERM: kinesisd exited $?"
exit 0
