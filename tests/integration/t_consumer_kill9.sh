#!/bin/sh
# kill -9 in the middle of consuming, then a restart: every record has been
# delivered at least once, and the restart resumed from the checkpoints
# (it does not start over).
. "$(dirname "$0")/../lib/common.sh"

start_kinesalite
start_dynalite
create_stream cons-k9 2
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" cons-k9 --plain 2000 \
    --agg 1000 --per-agg 100 >"$T/expected.json" || fail "writing the records"

cat >"$T/kd.yaml" <<YAML
application-name: t-cons-k9
socket: $T/kd.sock
http-listen: ""
log: { level: debug, format: text }
consumers:
  c1:
    stream-name: cons-k9
    checkpointer: { intervalMillis: 200 }
    kcl: { maxRecords: 200, idleTimeBetweenReadsInMillis: 200,
           failoverTimeMillis: 2000, workerId: t-worker-k9 }
YAML
start_kinesisd "$T/kd.yaml"
$PY "$TOP/tests/lib/kdconsume.py" "$KD_SOCK" c1 --out "$T/first.jsonl" \
    --delay 0.002 --timeout 60 &
CPID=$!
PIDS="$PIDS $CPID"
i=0
until [ "$(cat "$T/first.jsonl" 2>/dev/null | grep -c '"record"')" -ge 1200 ]; do
	i=$((i + 1))
	[ $i -lt 600 ] || fail "the first run did not get 1200 records"
	sleep 0.1
done
kill -9 "$KD_PID"
wait "$CPID"
n1=$(grep -c '"record"' "$T/first.jsonl")
[ "$n1" -lt 3000 ] || fail "killed too late: all $n1 records were delivered"

# The dead daemon's socket file stays behind.
rm -f "$T/kd.sock"
start_kinesisd "$T/kd.yaml" kinesisd2
$PY "$TOP/tests/lib/kdconsume.py" "$KD_SOCK" c1 --out "$T/second.jsonl" \
    --idle 5 --timeout 90 || fail "second subscriber"
n2=$(grep -c '"record"' "$T/second.jsonl")
$PY "$TOP/tests/lib/kdcheck.py" delivered "$T/expected.json" "$T/first.jsonl" \
    "$T/second.jsonl" >/dev/null || fail "records lost after kill -9"
[ "$n2" -lt 2500 ] || fail "the restart delivered $n2 records: checkpoints unused"
note "kill -9 after $n1 records; the restart delivered $n2; none lost"

kill -TERM "$KD_PID"
wait "$KD_PID" || fail "SIGTERM: kinesisd exited $?"
exit 0
