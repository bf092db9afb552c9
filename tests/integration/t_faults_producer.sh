#!/bin/sh
# The producer through the fault proxy (tests/faults/faultproxy.py, a fake
# standing between kinesisd and kinesalite): for each fault -- 400
# ProvisionedThroughputExceededException and ThrottlingException, 500s,
# connection resets before and after the request reached Kinesis, replies
# slower than RequestTimeout before and after, slow but in time, PutRecords
# partial failures (entries not stored, or stored while the reply says
# failed), then all of them at once -- puts flow for a while, the fault
# clears, and a probe put must come back put_ok (recovery).  Then the
# stream is read back with boto3 and split with aws-kinesis-agg: every
# put_ok's position holds its record, every put was answered, none failed.
# FailIfThrottled: throttled records fail at once with
# ProvisionedThroughputExceededException, InternalFailure ones are retried.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/faults/lib.sh"

start_kinesalite
create_stream faults3 3
start_faultproxy kproxy "$KINESIS_URL"
KPROXY=$FP_URL
cat >"$T/kd.yaml" <<YAML
socket: $T/kd.sock
http-listen: ""
endpoints: { kinesis: "$KPROXY" }
producers:
  p:
    stream-name: faults3
    kpl: { RecordTtl: 60000, RequestTimeout: 1000, ConnectTimeout: 500,
           RecordMaxBufferedTime: 50 }
  fit:
    stream-name: faults3
    kpl: { FailIfThrottled: true, RecordTtl: 60000, RequestTimeout: 1000,
           RecordMaxBufferedTime: 50 }
YAML
start_kinesisd "$T/kd.yaml"

S=${FAULT_PHASE_SECONDS:-1.5}
cat >"$T/phases.json" <<JSON
[
 {"name": "throttle-400", "seconds": $S, "rules": [{"op": "PutRecords", "action": "throttle", "p": 0.7}]},
 {"name": "throttling", "seconds": $S, "rules": [{"op": "PutRecords", "action": "throttle", "type": "ThrottlingException", "p": 0.7}]},
 {"name": "error-500", "seconds": $S, "rules": [{"op": "PutRecords", "action": "error", "p": 0.6}]},
 {"name": "reset", "seconds": $S, "rules": [{"op": "PutRecords", "action": "reset", "p": 0.5}]},
 {"name": "reset-after", "seconds": $S, "rules": [{"op": "PutRecords", "action": "reset_after", "p": 0.5}]},
 {"name": "timeout", "seconds": $S, "rules": [{"op": "PutRecords", "action": "slow", "delay_ms": 1400, "p": 0.4}]},
 {"name": "timeout-after", "seconds": $S, "rules": [{"op": "PutRecords", "action": "slow", "after": 1, "delay_ms": 1400, "p": 0.4}]},
 {"name": "slow", "seconds": $S, "rules": [{"op": "*", "action": "slow", "delay_ms": 300}]},
 {"name": "partial", "seconds": $S, "rules": [{"op": "PutRecords", "action": "partial", "fail_p": 0.3}]},
 {"name": "partial-lying", "seconds": $S, "rules": [{"op": "PutRecords", "action": "partial", "mode": "rewrite", "fail_p": 0.3}]},
 {"name": "everything", "seconds": $S, "rules": [
   {"op": "*", "action": "throttle", "p": 0.1}, {"op": "*", "action": "error", "p": 0.1},
   {"op": "*", "action": "reset", "p": 0.1}, {"op": "*", "action": "reset_after", "p": 0.1},
   {"op": "*", "action": "slow", "delay_ms": 1200, "p": 0.1},
   {"op": "PutRecords", "action": "partial", "fail_p": 0.2}]}
]
JSON
$PY "$FAULTS/putload.py" "$KD_SOCK" "$T/load.json" --producer p --prefix f \
    --rate 800 --phases "$T/phases.json" --proxy "$KPROXY" --drain 60 ||
    fail "put load under faults"
$PY - "$T/load.json" <<'PYEOF' || fail "faults were not injected, or kinesisd did not recover"
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["phases"]) == 11, "only %d phases ran" % len(d["phases"])
for ph in d["phases"]:
    assert ph["injected"] > 0, "phase %s injected nothing" % ph["name"]
    assert ph["recovery_ms"] is not None, "no put_ok after phase %s cleared" % ph["name"]
PYEOF

# FailIfThrottled: whole requests throttled, then entries throttled.
cat >"$T/fit.json" <<JSON
[
 {"name": "fit-400", "seconds": 1, "rules": [{"op": "PutRecords", "action": "throttle", "p": 0.5}]},
 {"name": "fit-partial", "seconds": 1, "rules": [{"op": "PutRecords", "action": "partial", "fail_p": 0.4}]}
]
JSON
$PY "$FAULTS/putload.py" "$KD_SOCK" "$T/fit-load.json" --producer fit \
    --prefix t --rate 500 --phases "$T/fit.json" --proxy "$KPROXY" --drain 30 ||
    fail "FailIfThrottled load"
fault_stats "$KPROXY" >"$T/stats.json"

read_users faults3 "$T/users.json"
$PY "$FAULTS/check_puts.py" "$T/users.json" "$T/load.json" --all-answered ||
    fail "a put_ok was lost or a put failed under faults"
$PY "$FAULTS/check_puts.py" "$T/users.json" "$T/fit-load.json" --all-answered \
    --allow ProvisionedThroughputExceededException \
    --expect ProvisionedThroughputExceededException ||
    fail "FailIfThrottled"
$PY - "$T/fit-load.json" <<'PYEOF' || fail "FailIfThrottled retried what it should fail, or failed what it should retry"
import json, sys
d = json.load(open(sys.argv[1]))
ok = sum(1 for m in d["results"].values() if m["op"] == "put_ok")
assert ok > 0, "FailIfThrottled: nothing succeeded"
PYEOF
kill -TERM "$KD_PID"; wait "$KD_PID" || fail "exit code after SIGTERM"
exit 0
