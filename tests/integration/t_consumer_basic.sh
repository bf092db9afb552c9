#!/bin/sh
# Consumer end to end: 3,000 plain and 3,000 KPL-aggregated records written
# by boto3 reach one subscriber exactly once each, with the right key,
# data, subseq and ehk, in order per shard; MillisBehindLatest is reported
# per shard; after acking everything SIGTERM exits 0 with consumer_shutdown
# per shard, every lease holds the last acked (seq, subseq), and a restart
# redelivers nothing.  kinesisctl tail and leases on the way.
. "$(dirname "$0")/../lib/common.sh"

start_kinesalite
start_dynalite
create_stream cons-basic 4
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" cons-basic --plain 3000 \
    --agg 3000 --per-agg 100 --ehk-every 7 >"$T/expected.json" ||
    fail "writing the records"

HTTP_PORT=$(free_port)
cat >"$T/kd.yaml" <<YAML
application-name: t-cons-basic
socket: $T/kd.sock
http-listen: 127.0.0.1:$HTTP_PORT
log: { level: debug, format: text }
consumers:
  c1:
    stream-name: cons-basic
    checkpointer: { intervalMillis: 200 }
    kcl: { idleTimeBetweenReadsInMillis: 200, failoverTimeMillis: 3000,
           workerId: t-worker-1 }
YAML
start_kinesisd "$T/kd.yaml"

# A consumer nobody configured, and acks before subscribing.
printf '%s\n' '{"op":"subscribe","consumer":"nope","id":1}' \
    '{"op":"unsubscribe","consumer":"c1","id":2}' \
    '{"op":"ack","consumer":"c1","shard":"shardId-000000000000","seq":"1","subseq":0}' \
    '{"op":"ping","id":3}' | kd_talk >"$T/errors.out"
grep -q '"error":"unknown_consumer"' "$T/errors.out" || fail "no unknown_consumer"
grep -q '"error":"not_subscribed"' "$T/errors.out" || fail "no not_subscribed"
grep -q '"pong"' "$T/errors.out" || fail "a stray ack upset the connection"

$PY "$TOP/tests/lib/kdconsume.py" "$KD_SOCK" c1 --out "$T/got.jsonl" \
    --count 6000 --stay --done "$T/done" --timeout 180 &
CPID=$!
PIDS="$PIDS $CPID"
i=0
while [ ! -f "$T/done" ]; do
	i=$((i + 1))
	[ $i -lt 1200 ] || fail "6000 records did not arrive: $(grep -c '"record"' "$T/got.jsonl")"
	sleep 0.1
done
# Time for a duplicate to show up, and for the checkpointer.
sleep 2

curl -fsS "http://127.0.0.1:$HTTP_PORT/metrics" >"$T/metrics.txt" || fail "/metrics"
for s in 0 1 2 3; do
	grep -q "kinesisd_behind_latest_seconds{consumer=\"c1\",shard=\"shardId-00000000000$s\"}" \
	    "$T/metrics.txt" || fail "no MillisBehindLatest for shard $s"
done
grep -q 'kinesisd_records_delivered_total{consumer="c1"} 6000' "$T/metrics.txt" ||
    fail "delivered_total is not 6000: $(grep records_delivered "$T/metrics.txt")"
grep -q 'kinesisd_records_acked_total{consumer="c1"} 6000' "$T/metrics.txt" ||
    fail "acked_total is not 6000"
grep -q 'kinesisd_shards_held{consumer="c1"} 4' "$T/metrics.txt" ||
    fail "shards_held is not 4"
"$TOP/kinesisctl" stats >"$T/stats.out" || fail "kinesisctl stats"
grep -q '"in_flight":[[:space:]]*0' "$T/stats.out" || fail "stats: in_flight not 0"

kill -TERM "$KD_PID"
wait "$KD_PID"
rc=$?
[ $rc -eq 0 ] || fail "SIGTERM: kinesisd exited $rc"
wait "$CPID"

$PY "$TOP/tests/lib/kdcheck.py" delivered "$T/expected.json" "$T/got.jsonl" \
    --exactly-once >"$T/last.json" || fail "deliveries are wrong"
[ "$($PY "$TOP/tests/lib/kdcheck.py" count "$T/got.jsonl" consumer_shutdown)" = 4 ] ||
    fail "not one consumer_shutdown per shard"
grep -q '"ehk"' "$T/got.jsonl" || fail "no record carried its ehk"
note "6000 records exactly once; SIGTERM exit 0"

# Restart: the leases hold the last records, and nothing comes again.
start_kinesisd "$T/kd.yaml" kinesisd2
$PY "$TOP/tests/lib/kdcheck.py" leases "$KD_SOCK" c1 "$T/last.json" ||
    fail "the leases do not hold the last acked records"
"$TOP/kinesisctl" leases c1 >"$T/leases.txt" || fail "kinesisctl leases"
grep -q '^SHARD ' "$T/leases.txt" || fail "kinesisctl leases: no header"
[ "$(grep -c shardId- "$T/leases.txt")" = 4 ] || fail "kinesisctl leases: not 4 rows"
$PY "$TOP/tests/lib/kdconsume.py" "$KD_SOCK" c1 --out "$T/again.jsonl" \
    --timeout 6 || fail "second subscriber"
[ "$($PY "$TOP/tests/lib/kdcheck.py" count "$T/again.jsonl" shard_started)" = 4 ] ||
    fail "the restarted daemon did not take the 4 leases"
n=$($PY "$TOP/tests/lib/kdcheck.py" count "$T/again.jsonl" record)
[ "$n" = 0 ] || fail "a restart redelivered $n records"
note "restart redelivers nothing"

# kinesisctl tail: two new records, printed decoded, then exit 0.
$PY - "$KINESIS_URL" <<'PYEOF' || fail "put for tail"
import sys, boto3
k = boto3.client("kinesis", endpoint_url=sys.argv[1])
for d in (b"tail-one", b"tail-two"):
    k.put_record(StreamName="cons-basic", PartitionKey="same", Data=d)
PYEOF
timeout 30 "$TOP/kinesisctl" tail c1 -n 2 >"$T/tail.out" 2>"$T/tail.err" ||
    fail "kinesisctl tail: $(cat "$T/tail.err")"
[ "$(cat "$T/tail.out")" = "tail-one
tail-two" ] || fail "kinesisctl tail printed: $(cat "$T/tail.out")"
timeout 5 "$TOP/kinesisctl" tail nope -n 1 2>/dev/null && fail "tail of an unknown consumer"

kill -TERM "$KD_PID"
wait "$KD_PID" || fail "second SIGTERM: kinesisd exited $?"
exit 0
