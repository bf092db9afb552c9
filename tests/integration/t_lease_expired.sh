#!/bin/sh
# A shard that expired from the stream before it was read to its end (a
# consumer down for longer than the retention period, across a split):
# its lease, short of SHARD_END, would keep its children from ever being
# read (the KCL's parent check).  Shard sync deletes such a lease once two
# listings agree the shard is gone, and the children are read.
#
# No emulator expires shards, so the fault proxy (a fake, in front of
# kinesalite) plays the expiry: ListShards replies leave the parent out
# and GetShardIterator for it answers ResourceNotFoundException.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/faults/lib.sh"

P=shardId-000000000000
start_kinesalite
start_dynalite
create_stream ex 1
start_faultproxy kproxy "$KINESIS_URL"
KPROXY=$FP_URL
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" ex --plain 5 \
    --prefix old- >"$T/old.json" || fail "writing the first records"

cat >"$T/kd.yaml" <<YAML
application-name: t-expired
socket: $T/kd.sock
http-listen: ""
log: { level: info, format: text }
endpoints: { kinesis: "$KPROXY" }
consumers:
  x:
    stream-name: ex
    checkpointer: { intervalMillis: 200 }
    kcl: { idleTimeBetweenReadsInMillis: 200, shardSyncIntervalMillis: 1000,
           failoverTimeMillis: 3000, workerId: t-expired-1 }
YAML

# First life: the parent's 5 records are read and checkpointed, not to
# its end (the shard is still open).
start_kinesisd "$T/kd.yaml" kinesisd1
$PY "$TOP/tests/lib/kdconsume.py" "$KD_SOCK" x --out "$T/first.jsonl" \
    --count 5 --timeout 60 || fail "the first records did not come"
kill -TERM "$KD_PID"
wait "$KD_PID" || fail "SIGTERM: exit $?"
cp=$(aws_dynamodb get-item --table-name t-expired-ex --consistent-read \
    --key "{\"leaseKey\": {\"S\": \"$P\"}}" --query Item.checkpoint.S \
    --output text) || fail "get-item"
case "$cp" in [0-9]*) ;; *) fail "the parent's checkpoint is $cp" ;; esac
note "the parent's lease checkpointed at $cp"

# While no one runs: a split, records in the children, and the parent
# expires.
aws_kinesis split-shard --stream-name ex --shard-to-split $P \
    --new-starting-hash-key 170141183460469231731687303715884105728 ||
    fail "split-shard"
aws_kinesis wait stream-exists --stream-name ex || fail "stream not active"
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" ex --plain 10 \
    --prefix new- >"$T/new.json" || fail "writing to the children"
fault_set "$KPROXY" "[{\"op\": \"ListShards\", \"action\": \"hide_shards\", \"shards\": [\"$P\"]},
    {\"op\": \"GetShardIterator\", \"match\": \"$P\", \"action\": \"error\",
     \"status\": 400, \"type\": \"ResourceNotFoundException\"}]"

start_kinesisd "$T/kd.yaml" kinesisd2
$PY "$TOP/tests/lib/kdconsume.py" "$KD_SOCK" x --out "$T/second.jsonl" \
    --count 10 --stay --done "$T/second.done" --timeout 90 &
PIDS="$PIDS $!"
i=0
while [ ! -f "$T/second.done" ]; do
	i=$((i + 1))
	[ $i -lt 600 ] || fail "the children were not read: $(grep -c '"record"' "$T/second.jsonl") of 10 records; $(grep -c "deleted the lease of $P" "$T/kinesisd2.log") deletes"
	sleep 0.1
done
grep -q "deleted the lease of $P: the shard is no longer in stream ex" \
    "$T/kinesisd2.log" || fail "no warning about the deleted lease"
$PY "$TOP/tests/lib/kdcheck.py" delivered "$T/new.json" "$T/second.jsonl" \
    --exactly-once >/dev/null || fail "the children's records are wrong"
aws_dynamodb scan --table-name t-expired-ex --consistent-read \
    --output json >"$T/table.json" || fail "scan"
$PY - "$T/table.json" <<'PYEOF' || fail "lease table"
import json, sys
keys = sorted(i["leaseKey"]["S"] for i in json.load(open(sys.argv[1]))["Items"])
assert keys == ["shardId-000000000001", "shardId-000000000002"], keys
PYEOF
note "the expired parent's lease deleted; the children's 10 records read"

kill -TERM "$KD_PID"
wait "$KD_PID" || fail "SIGTERM: exit $?"
exit 0
