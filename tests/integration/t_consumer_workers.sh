#!/bin/sh
# Two kinesisd workers of one consumer (one lease table): the second one
# takes leases from the first (KCL stealing), whose subscriber gets
# shard_lost for them while the second's gets shard_started; acks for a
# lost shard are ignored, and no record is lost on the way.
. "$(dirname "$0")/../lib/common.sh"

start_kinesalite
start_dynalite
create_stream cons-w 4
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" cons-w --plain 3000 \
    >"$T/expected.json" || fail "writing the records"

for w in 1 2; do
	cat >"$T/kd$w.yaml" <<YAML
application-name: t-cons-workers
socket: $T/kd$w.sock
http-listen: ""
log: { level: debug, format: text }
consumers:
  c1:
    stream-name: cons-w
    checkpointer: { intervalMillis: 200 }
    kcl: { maxRecords: 50, idleTimeBetweenReadsInMillis: 200,
           failoverTimeMillis: 2000, workerId: t-worker-$w }
YAML
done
start_kinesisd "$T/kd1.yaml" kinesisd1
KD1=$KD_PID
SOCK1=$KD_SOCK
$PY "$TOP/tests/lib/kdconsume.py" "$SOCK1" c1 --out "$T/w1.jsonl" --mif 10 \
    --delay 0.004 --idle 6 --idle-after "$T/w2.started" --timeout 150 &
C1=$!
PIDS="$PIDS $C1"
i=0
until [ "$(cat "$T/w1.jsonl" 2>/dev/null | grep -c '"record"')" -ge 300 ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "worker 1 got no records"
	sleep 0.1
done
start_kinesisd "$T/kd2.yaml" kinesisd2
KD2=$KD_PID
$PY "$TOP/tests/lib/kdconsume.py" "$KD_SOCK" c1 --out "$T/w2.jsonl" --mif 10 \
    --delay 0.004 --idle 6 --idle-after "$T/w2.started" --timeout 150 &
C2=$!
PIDS="$PIDS $C2"
i=0
until grep -q shard_started "$T/w2.jsonl" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 600 ] || fail "worker 2 took no lease"
	sleep 0.1
done
touch "$T/w2.started"
wait "$C1"
wait "$C2"

$PY "$TOP/tests/lib/kdcheck.py" delivered "$T/expected.json" "$T/w1.jsonl" \
    "$T/w2.jsonl" >/dev/null || fail "records lost between the workers"
lost=$($PY "$TOP/tests/lib/kdcheck.py" count "$T/w1.jsonl" shard_lost)
[ "$lost" -ge 1 ] || fail "worker 1's subscriber got no shard_lost"
note "worker 2 took $lost shard(s) from worker 1; nothing lost"

kill -TERM "$KD1" "$KD2"
wait "$KD1" || fail "worker 1 exited $?"
wait "$KD2" || fail "worker 2 exited $?"
exit 0
