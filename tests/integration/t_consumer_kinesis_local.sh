#!/bin/sh
# The consumer against kinesis-local, which does what kinesalite does not:
# real MillisBehindLatest (reported per shard as a gauge, gone once the
# shard is dropped), AT_TIMESTAMP past the last record (an empty read, not
# a hang), and a resharding: the parent's end is checkpointed once all its
# records are acked, shard_ended comes, and the children follow.
. "$(dirname "$0")/../lib/common.sh"

start_kinesis_local
start_dynalite
create_stream kl-lag 2
create_stream kl-split 1
# kinesis-local's MillisBehindLatest is the arrival time of the shard's
# newest record minus that of the last one returned: two waves 3 s apart.
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" kl-lag --plain 200 \
    --prefix lag1- >"$T/lag1.json" || fail "writing kl-lag"
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" kl-split --plain 10 \
    --prefix parent- >"$T/parent.json" || fail "writing kl-split"
sleep 3
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" kl-lag --plain 200 \
    --prefix lag2- >"$T/lag2.json" || fail "writing kl-lag"
$PY - "$T" <<'PYEOF'
import json, sys
t = sys.argv[1]
r = json.load(open(t + "/lag1.json"))["records"] + json.load(open(t + "/lag2.json"))["records"]
json.dump({"records": r}, open(t + "/lag.json", "w"))
PYEOF
sleep 1
TS=$($PY -c 'import time; print("%.3f" % time.time())')

HTTP_PORT=$(free_port)
cat >"$T/kd.yaml" <<YAML
application-name: t-cons-kl
socket: $T/kd.sock
http-listen: 127.0.0.1:$HTTP_PORT
log: { level: debug, format: text }
default-consumer:
  checkpointer: { intervalMillis: 200 }
  kcl: { idleTimeBetweenReadsInMillis: 200 }
consumers:
  lag:
    stream-name: kl-lag
    kcl: { maxRecords: 10 }
  future:
    stream-name: kl-lag
    kcl: { initialPositionInStream: AT_TIMESTAMP, initialTimestamp: "$TS",
           tableName: t-cons-kl-future }
  split:
    stream-name: kl-split
YAML
start_kinesisd "$T/kd.yaml"

# lag: a slow reader; sample the gauge while it is behind.
$PY "$TOP/tests/lib/kdconsume.py" "$KD_SOCK" lag --out "$T/lag.jsonl" \
    --mif 5 --delay 0.01 --count 400 --stay --done "$T/lag.done" \
    --until "$T/lag.stop" --timeout 120 &
LPID=$!
PIDS="$PIDS $LPID"
$PY "$TOP/tests/lib/kdconsume.py" "$KD_SOCK" future --out "$T/future.jsonl" \
    --count 5 --stay --done "$T/future.done" --timeout 60 &
PIDS="$PIDS $!"
$PY "$TOP/tests/lib/kdconsume.py" "$KD_SOCK" split --out "$T/split.jsonl" \
    --count 20 --stay --done "$T/split.done" --timeout 90 &
PIDS="$PIDS $!"

: >"$T/behind.txt"
i=0
while [ ! -f "$T/lag.done" ]; do
	curl -fsS "http://127.0.0.1:$HTTP_PORT/metrics" 2>/dev/null |
	    grep '^kinesisd_behind_latest_seconds{consumer="lag"' >>"$T/behind.txt"
	i=$((i + 1))
	[ $i -lt 400 ] || fail "lag: stuck at $(grep -c '"record"' "$T/lag.jsonl") records"
	sleep 0.25
done
$PY - "$T/behind.txt" <<'PYEOF' || fail "MillisBehindLatest was never above 1 s on both shards"
import re, sys
top = {}
for l in open(sys.argv[1]):
    m = re.match(r'.*shard="([^"]+)"\} ([0-9.e+]+)', l)
    if m:
        top[m.group(1)] = max(top.get(m.group(1), 0), float(m.group(2)))
print("max MillisBehindLatest:", top)
sys.exit(0 if len(top) == 2 and min(top.values()) > 1 else 1)
PYEOF
sleep 2
curl -fsS "http://127.0.0.1:$HTTP_PORT/metrics" >"$T/metrics.txt" || fail "/metrics"
grep -q 'kinesisd_behind_latest_seconds{consumer="lag",shard="shardId-000000000000"} 0$' \
    "$T/metrics.txt" || fail "caught up, yet still behind: $(grep behind "$T/metrics.txt")"
$PY "$TOP/tests/lib/kdcheck.py" delivered "$T/lag.json" "$T/lag.jsonl" \
    --exactly-once >/dev/null || fail "lag: deliveries are wrong"
touch "$T/lag.stop"
wait "$LPID"
# The last subscriber left: the leases went, and their gauges with them.
i=0
while curl -fsS "http://127.0.0.1:$HTTP_PORT/metrics" |
    grep -q 'kinesisd_behind_latest_seconds{consumer="lag"'; do
	i=$((i + 1))
	[ $i -lt 50 ] || fail "MillisBehindLatest stays for shards no longer held"
	sleep 0.1
done
note "MillisBehindLatest per shard: real values, 0 once caught up, gone when dropped"

# future: only what is written from now on.
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" kl-lag --plain 5 \
    --prefix new- >"$T/new.json" || fail "writing new records"
i=0
while [ ! -f "$T/future.done" ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "future: got $(grep -c '"record"' "$T/future.jsonl") of 5"
	sleep 0.1
done
sleep 1
$PY "$TOP/tests/lib/kdcheck.py" delivered "$T/new.json" "$T/future.jsonl" \
    --exactly-once >/dev/null || fail "AT_TIMESTAMP past the last record read the wrong records"
note "AT_TIMESTAMP past the last record"

# split: the parent's 10 records are acked; split it, write 10 more.
i=0
until [ "$(cat "$T/split.jsonl" 2>/dev/null | grep -c '"record"')" -ge 10 ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "split: the parent's records did not come"
	sleep 0.1
done
aws_kinesis split-shard --stream-name kl-split \
    --shard-to-split shardId-000000000000 \
    --new-starting-hash-key 170141183460469231731687303715884105728 ||
    fail "split-shard"
aws_kinesis wait stream-exists --stream-name kl-split
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" kl-split --plain 10 \
    --prefix child- >"$T/child.json" || fail "writing to the children"
i=0
while [ ! -f "$T/split.done" ]; do
	i=$((i + 1))
	[ $i -lt 600 ] || fail "split: got $(grep -c '"record"' "$T/split.jsonl") of 20 records"
	sleep 0.1
done
$PY - "$T" <<'PYEOF' || fail "the reshard was not followed"
import json, sys
t = sys.argv[1]
msgs = [json.loads(l) for l in open(t + "/split.jsonl")]
ops = [(m["op"], m.get("shard")) for m in msgs]
bad = []
if ("shard_ended", "shardId-000000000000") not in ops:
    bad.append("no shard_ended for the parent")
else:
    end = ops.index(("shard_ended", "shardId-000000000000"))
    parent = [i for i, m in enumerate(msgs) if m["op"] == "record"
              and m["shard"] == "shardId-000000000000"]
    child = [i for i, m in enumerate(msgs) if m["op"] == "record"
             and m["shard"] != "shardId-000000000000"]
    if len(parent) != 10 or len(child) != 10:
        bad.append("%d parent and %d child records" % (len(parent), len(child)))
    elif max(parent) > end:
        bad.append("parent's records after its shard_ended")
    elif min(child) < max(parent):
        bad.append("children's records before the parent's last one")
    else:
        # The children's leases may be handed over before or after
        # shard_ended arrives; either way after the parent's last record.
        started = {s for o, s in ops[max(parent):] if o == "shard_started"}
        if len(started) != 2:
            bad.append("children started: %s" % started)
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
PYEOF
note "resharding: shard_ended after the parent's last ack, then the children"

kill -TERM "$KD_PID"
wait "$KD_PID" || fail "SIGTERM: kinesisd exited $?"
exit 0
