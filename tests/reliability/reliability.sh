#!/bin/sh
# make reliability: the reactive-kinesis reliability test, automatic.
# A producer puts N records (default 100,000; N=... overrides) through
# kinesisd's socket into a 2-shard stream in kinesalite and prints the
# unconfirmed and failed counts (both must be 0); at the same time a
# consumer on the same daemon (leases in dynalite) reads them all back,
# checks each record's content and the order per key, prints records/s
# and "PIT STOP OK" after each verified checkpoint interval.  The producer
# runs with MaxConnections 1, the setting under which kinesisd keeps
# per-shard order (docs/protocol.md), so order per key is checked exactly.
. "$(dirname "$0")/../lib/common.sh"

N=${N:-100000}
KEYS=${KEYS:-500}
INTERVAL=${INTERVAL_MS:-500}
start_kinesalite
start_dynalite
create_stream reliability 2
cat >"$T/kd.yaml" <<YAML
application-name: reliability
socket: $T/kd.sock
http-listen: ""
producers:
  rel:
    stream-name: reliability
    kpl: { MaxConnections: 1, RecordTtl: 120000 }
consumers:
  rel:
    stream-name: reliability
    checkpointer: { intervalMillis: $INTERVAL }
    kcl: { idleTimeBetweenReadsInMillis: 200, workerId: reliability-worker }
YAML
start_kinesisd "$T/kd.yaml"
echo "reliability: $N records, $KEYS keys, 2 shards, checkpoint interval $INTERVAL ms"

$PY "$TOP/tests/reliability/rel.py" consume "$KD_SOCK" rel "$N" "$KEYS" "$INTERVAL" &
CONS=$!
PIDS="$PIDS $CONS"
$PY "$TOP/tests/reliability/rel.py" produce "$KD_SOCK" rel "$N" "$KEYS"
prc=$?
wait "$CONS"
crc=$?
kill -TERM "$KD_PID"
wait "$KD_PID" || fail "kinesisd exited $? on SIGTERM"
[ $prc -eq 0 ] || fail "producer: records unconfirmed or failed"
[ $crc -eq 0 ] || fail "consumer: records missing, wrong or out of order"
echo "reliability: OK"
