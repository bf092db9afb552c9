#!/bin/sh
# The consumer with both of its services behind the fault proxy
# (tests/faults/faultproxy.py, a fake): while boto3 keeps writing to a
# 2-shard stream (after 2,000 KPL-aggregated records), Kinesis throttles,
# fails with 500s, resets connections and answers slowly, then DynamoDB
# throttles checkpoints (kinesisd must log "Throttled by DynamoDB on
# checkpointing -- backing off..."), refuses checkpoints with
# ConditionalCheckFailedException (the lease is lost and taken back),
# throttles and fails every call, loses replies of writes it applied,
# sends replies damaged in transit (caught by their x-amz-crc32, retried),
# and finally everything fails at once.  A subscriber acks every record;
# leasewatch.py follows the lease table from outside.  Once the faults
# clear, every record is acked (recovery, nothing lost), checkpoints never
# moved backwards nor past an unacked record, no record at or below a
# written checkpoint came again, and a graceful stop leaves each lease at
# its shard's last record.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/faults/lib.sh"

start_kinesalite
start_dynalite
create_stream fc2 2
start_faultproxy kproxy "$KINESIS_URL"
KPROXY=$FP_URL
start_faultproxy dproxy "$DYNAMO_URL"
DPROXY=$FP_URL
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" fc2 --agg 2000 --per-agg 20 \
    --prefix pre >"$T/expected-agg.json" || fail "writing the first records"

cat >"$T/kd.yaml" <<YAML
application-name: faults
socket: $T/kd.sock
http-listen: ""
log: { level: info }
endpoints: { kinesis: "$KPROXY", dynamodb: "$DPROXY" }
consumers:
  c:
    stream-name: fc2
    checkpointer: { intervalMillis: 200, backoffMillis: 300 }
    kcl: { maxRecords: 200, idleTimeBetweenReadsInMillis: 100,
           failoverTimeMillis: 1500, workerId: faults-worker }
YAML
start_kinesisd "$T/kd.yaml"
spawn leasewatch $PY "$FAULTS/leasewatch.py" "$DYNAMO_URL" faults-fc2 \
    "$T/leases.jsonl" --seconds 300 --every 50
$PY "$FAULTS/ackload.py" "$KD_SOCK" c "$T/acks.jsonl" --timeout 200 &
SUB=$!
PIDS="$PIDS $SUB"

S=${FAULT_PHASE_SECONDS:-2}
PHASES=12
WRITE_SECONDS=$(awk "BEGIN { print $S * $PHASES + 1 }")
$PY "$FAULTS/streamwriter.py" "$KINESIS_URL" fc2 "$T/expected-w.json" \
    --rate 150 --seconds "$WRITE_SECONDS" &
WRITER=$!
PIDS="$PIDS $WRITER"

# phase NAME PROXY_URL RULES: the rules for $S seconds, then cleared;
# the proxy must have injected something.
phase() {
	fault_set "$2" "$3"
	sleep "$S"
	fault_stats "$2" >"$T/stats-$1.json"
	fault_clear "$2"
	hits=$($PY -c 'import json,sys; print(sum(r["hits"] for r in json.load(open(sys.argv[1]))["rules"]))' "$T/stats-$1.json")
	[ "$hits" -gt 0 ] || fail "phase $1 injected nothing"
	note "phase $1: $hits faults injected"
}

CP='"match": "#cp = :cp, #cs = :cs"'
phase k-throttle "$KPROXY" '[{"op": "GetRecords", "action": "throttle", "p": 0.7}]'
phase k-500 "$KPROXY" '[{"op": "GetRecords", "action": "error", "p": 0.5}]'
phase k-reset "$KPROXY" '[{"op": "*", "action": "reset", "p": 0.4}]'
phase k-slow "$KPROXY" '[{"op": "*", "action": "slow", "delay_ms": 700, "p": 0.5}]'
phase d-cp-throttle "$DPROXY" "[{\"op\": \"UpdateItem\", $CP, \"action\": \"throttle\"}]"
phase d-cp-condfail "$DPROXY" "[{\"op\": \"UpdateItem\", $CP, \"action\": \"condfail\", \"count\": 2}]"
phase d-throttle "$DPROXY" '[{"op": "*", "action": "throttle", "p": 0.3}]'
phase d-500 "$DPROXY" '[{"op": "*", "action": "error", "p": 0.3}]'
phase d-lost-reply "$DPROXY" '[{"op": "UpdateItem", "action": "reset_after", "p": 0.3}]'
phase d-slow "$DPROXY" '[{"op": "*", "action": "slow", "delay_ms": 400, "p": 0.5}]'
phase d-corrupt "$DPROXY" '[{"op": "*", "action": "corrupt", "p": 0.3}]'
fault_set "$KPROXY" '[{"op": "*", "action": "throttle", "p": 0.15}, {"op": "*", "action": "error", "p": 0.1}, {"op": "*", "action": "reset", "p": 0.1}, {"op": "*", "action": "slow", "delay_ms": 500, "p": 0.1}]'
phase everything "$DPROXY" '[{"op": "*", "action": "throttle", "p": 0.15}, {"op": "*", "action": "error", "p": 0.1}, {"op": "*", "action": "reset_after", "p": 0.1}, {"op": "UpdateItem", "action": "condfail", "p": 0.05}]'
fault_clear "$KPROXY"

wait "$WRITER" || fail "stream writer"
TOTAL=$($PY -c 'import json,sys; print(sum(len(json.load(open(p))["records"]) for p in sys.argv[1:]))' \
    "$T/expected-agg.json" "$T/expected-w.json")
# Recovery: everything acked within 60 s of the last fault.
i=0
while :; do
	n=$($PY -c 'import json,sys
s=set()
for l in open(sys.argv[1]):
    m=json.loads(l)
    if m.get("op")=="record" and "ta" in m: s.add((m["shard"],m["seq"],m["subseq"]))
print(len(s))' "$T/acks.jsonl")
	[ "$n" -ge "$TOTAL" ] && break
	i=$((i + 1))
	[ $i -lt 120 ] || fail "only $n of $TOTAL records acked 60 s after the faults cleared"
	sleep 0.5
done
note "all $TOTAL records acked after the faults cleared"
sleep 0.5
kill -TERM "$KD_PID"; wait "$KD_PID" || fail "SIGTERM: exit $?"
wait "$SUB"
$PY "$FAULTS/leasewatch.py" "$DYNAMO_URL" faults-fc2 "$T/final.jsonl" --once
sleep 0.2

grep -q 'does not match its x-amz-crc32 header: damaged in transit' "$T/kinesisd.log" ||
    fail "no damaged DynamoDB reply was noticed"
grep -q 'Throttled by DynamoDB on checkpointing -- backing off\.\.\.' "$T/kinesisd.log" ||
    fail "no 'Throttled by DynamoDB on checkpointing -- backing off...' line"
$PY "$FAULTS/check_consume.py" "$T/expected-agg.json,$T/expected-w.json" \
    "$T/leases.jsonl" "$T/acks.jsonl" --complete ||
    fail "consumer lost a record or broke a checkpoint rule under faults"
$PY - "$T/expected-agg.json,$T/expected-w.json" "$T/final.jsonl" <<'PYEOF' || fail "final checkpoints"
import json, sys
last = {}
for p in sys.argv[1].split(","):
    for r in json.load(open(p))["records"]:
        k = (int(r["seq"]), r["subseq"])
        if r["shard"] not in last or k > last[r["shard"]]:
            last[r["shard"]] = k
final = json.loads(open(sys.argv[2]).read().splitlines()[-1])["leases"]
for shard, k in last.items():
    cp, sub, owner, _ = final[shard]
    assert (int(cp), sub) == k, "%s: checkpoint %s/%s, last record %s" % (shard, cp, sub, k)
    assert owner is None, "%s still owned by %s after SIGTERM" % (shard, owner)
print("  every lease at its shard's last record, released")
PYEOF
exit 0
