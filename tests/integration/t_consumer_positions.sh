#!/bin/sh
# Where reading starts without a checkpoint: LATEST, AT_TIMESTAMP,
# AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER, consumers of one stream in
# one daemon (each its own lease table); on a stream of two shards, the
# shard the initialSequenceNumber is not from starts at its trim horizon.  kinesalite hangs in
# GetShardIterator AT_TIMESTAMP past its last record: the request must time
# out and be retried, and the records written later must still arrive.
. "$(dirname "$0")/../lib/common.sh"

start_kinesalite
start_dynalite
create_stream cons-pos 1
create_stream cons-pos2 2
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" cons-pos2 --plain 40 \
    --prefix two- >"$T/two.json" || fail "writing cons-pos2"
# The 5th record of shard 0: shard 0 starts there, shard 1 (where that
# sequence number is invalid) at its trim horizon.
SEQ2=$($PY -c '
import json, sys
r = [x for x in json.load(open(sys.argv[1]))["records"] if x["shard"].endswith("0")]
print(r[4]["seq"])' "$T/two.json")
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" cons-pos --plain 10 \
    --prefix b- >"$T/before.json" || fail "writing before"
sleep 1.2
T1=$($PY -c 'import time; print("%.3f" % time.time())')
sleep 1.2
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" cons-pos --plain 5 \
    --prefix m- >"$T/mid.json" || fail "writing mid"
sleep 1.2
T2=$($PY -c 'import time; print("%.3f" % time.time())')
SEQ5=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["records"][5]["seq"])' \
    "$T/before.json")

cat >"$T/kd.yaml" <<YAML
application-name: t-cons-pos
socket: $T/kd.sock
http-listen: ""
log: { level: debug, format: text }
default-consumer:
  stream-name: cons-pos
  kcl: { idleTimeBetweenReadsInMillis: 200, taskBackoffTimeMillis: 200 }
consumers:
  latest:
    kcl: { initialPositionInStream: LATEST, tableName: t-pos-latest }
  ts:
    kcl: { initialPositionInStream: AT_TIMESTAMP, initialTimestamp: "$T1",
           tableName: t-pos-ts }
  tsfuture:
    kcl: { initialPositionInStream: AT_TIMESTAMP, initialTimestamp: "$T2",
           tableName: t-pos-tsfuture }
  atseq:
    kcl: { initialPositionInStream: AT_SEQUENCE_NUMBER,
           initialSequenceNumber: "$SEQ5", tableName: t-pos-atseq }
  afterseq:
    kcl: { initialPositionInStream: AFTER_SEQUENCE_NUMBER,
           initialSequenceNumber: "$SEQ5", tableName: t-pos-afterseq }
  twoshards:
    stream-name: cons-pos2
    kcl: { initialPositionInStream: AT_SEQUENCE_NUMBER,
           initialSequenceNumber: "$SEQ2", tableName: t-pos-two }
YAML
start_kinesisd "$T/kd.yaml"

# name:count of records each must end with (the 5 written below included).
N2=$($PY -c '
import json, sys
r = json.load(open(sys.argv[1]))["records"]
print(len([x for x in r if x["shard"].endswith("1")]) +
      len([x for x in r if x["shard"].endswith("0")]) - 4)' "$T/two.json")
WANT="latest:5 ts:10 tsfuture:5 atseq:15 afterseq:14 twoshards:$N2"
for w in $WANT; do
	c=${w%%:*}
	$PY "$TOP/tests/lib/kdconsume.py" "$KD_SOCK" "$c" --out "$T/$c.jsonl" \
	    --count "${w#*:}" --stay --done "$T/$c.done" --timeout 90 &
	PIDS="$PIDS $!"
done
# Every consumer has its shard (LATEST's iterator is taken right after).
for w in $WANT; do
	c=${w%%:*}
	[ "$c" = tsfuture ] || [ "$c" = twoshards ] && continue
	i=0
	until grep -q shard_started "$T/$c.jsonl" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 300 ] || fail "$c: no shard_started"
		sleep 0.1
	done
done
sleep 2
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" cons-pos --plain 5 \
    --prefix a- >"$T/after.json" || fail "writing after"

for w in $WANT; do
	c=${w%%:*}
	i=0
	while [ ! -f "$T/$c.done" ]; do
		i=$((i + 1))
		[ $i -lt 600 ] || fail "$c: got $(grep -c '"record"' "$T/$c.jsonl") records, want ${w#*:}"
		sleep 0.1
	done
done
sleep 1 # anything extra would show now

$PY - "$T" <<'PYEOF' || fail "a consumer started at the wrong place"
import base64, json, sys
t = sys.argv[1]
b = ["b-plain-%d" % i for i in range(10)]
m = ["m-plain-%d" % i for i in range(5)]
a = ["a-plain-%d" % i for i in range(5)]
want = {"latest": a, "ts": m + a, "tsfuture": a, "atseq": b[5:] + m + a,
        "afterseq": b[6:] + m + a}
two = json.load(open(t + "/two.json"))["records"]
s0 = [base64.b64decode(x["data"]).decode() for x in two if x["shard"].endswith("0")]
s1 = [base64.b64decode(x["data"]).decode() for x in two if x["shard"].endswith("1")]
bad = 0
got = [json.loads(l) for l in open(t + "/twoshards.jsonl") if '"op": "record"' in l]
for shard, w in (("shardId-000000000000", s0[4:]), ("shardId-000000000001", s1)):
    g = [base64.b64decode(m["data"]).decode() for m in got if m["shard"] == shard]
    if g != w:
        print("twoshards %s: got %s\n  want %s" % (shard, g, w), file=sys.stderr)
        bad += 1
for c, w in want.items():
    got = [base64.b64decode(json.loads(l)["data"]).decode()
           for l in open("%s/%s.jsonl" % (t, c)) if '"op": "record"' in l]
    if got != w:
        print("%s: got %s\n  want %s" % (c, got, w), file=sys.stderr)
        bad += 1
sys.exit(bad)
PYEOF
grep -q 'tsfuture shardId-000000000000: GetShardIterator' "$T/kinesisd.log" ||
    fail "the hung GetShardIterator did not time out"
note "LATEST, AT_TIMESTAMP (also past the last record), AT_ and AFTER_SEQUENCE_NUMBER (one shard's)"

kill -TERM "$KD_PID"
wait "$KD_PID" || fail "SIGTERM: kinesisd exited $?"
exit 0
