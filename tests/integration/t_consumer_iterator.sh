#!/bin/sh
# The fetcher under GetRecords failures (injected by tests/faults/
# faultproxy.py, a fake in front of kinesalite): ExpiredIteratorException
# makes it take a new iterator after the last record it fetched, and
# throttling and 500s make it back off and try again; either way every
# record comes exactly once and in order.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/faults/lib.sh"

start_kinesalite
start_dynalite
create_stream cons-it 1
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" cons-it --plain 300 \
    --agg 200 --per-agg 20 >"$T/expected.json" || fail "writing the records"
start_faultproxy fp "$KINESIS_URL"
fault_set "$FP_URL" '[
  {"op": "GetRecords", "action": "error", "status": 400,
   "type": "ExpiredIteratorException", "p": 0.3, "count": 3},
  {"op": "GetRecords", "action": "throttle", "p": 0.3, "count": 3},
  {"op": "GetRecords", "action": "error", "p": 0.3, "count": 2}
]'

cat >"$T/kd.yaml" <<YAML
application-name: t-cons-it
socket: $T/kd.sock
http-listen: ""
log: { level: debug, format: text }
endpoints: { kinesis: "$FP_URL", dynamodb: "$DYNAMO_URL" }
consumers:
  c1:
    stream-name: cons-it
    kcl: { maxRecords: 20, idleTimeBetweenReadsInMillis: 200,
           taskBackoffTimeMillis: 100 }
YAML
start_kinesisd "$T/kd.yaml"
$PY "$TOP/tests/lib/kdconsume.py" "$KD_SOCK" c1 --out "$T/got.jsonl" \
    --count 500 --stay --done "$T/done" --timeout 120 &
PIDS="$PIDS $!"
i=0
while [ ! -f "$T/done" ]; do
	i=$((i + 1))
	[ $i -lt 900 ] || fail "got $(grep -c '"record"' "$T/got.jsonl") of 500 records"
	sleep 0.1
done
sleep 1
$PY "$TOP/tests/lib/kdcheck.py" delivered "$T/expected.json" "$T/got.jsonl" \
    --exactly-once >/dev/null || fail "records lost, doubled or out of order"
fault_stats "$FP_URL" >"$T/stats.json"
$PY - "$T/stats.json" <<'PYEOF' || fail "the faults were not all injected"
import json, sys
hits = [r.get("hits", 0) for r in json.load(open(sys.argv[1]))["rules"]]
print("fault hits:", hits)
sys.exit(0 if hits == [3, 3, 2] else 1)
PYEOF
grep -q 'c1 shardId-000000000000: iterator expired; a new one after [0-9]' \
    "$T/kinesisd.log" || fail "no new iterator after the last record"
grep -q 'GetRecords throttled' "$T/kinesisd.log" || fail "throttling not seen"
note "ExpiredIteratorException, throttling and 500s: every record once, in order"

kill -TERM "$KD_PID"
wait "$KD_PID" || fail "SIGTERM: kinesisd exited $?"
exit 0
