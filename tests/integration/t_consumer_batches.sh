#!/bin/sh
# Batches as in reactive-kinesis: a record left unacked is delivered again
# after batchTimeoutSeconds and the batch goes on once it is acked; ok:false
# skips a record (counted, checkpointed, never redelivered); a batch still
# above failureTolerancePercentage after failedMessageRetries gives
# consumer_failure, stops the shard here and releases its lease with the
# acked prefix checkpointed; within the tolerance the batch goes on.
. "$(dirname "$0")/../lib/common.sh"

start_kinesalite
start_dynalite
create_stream cons-rd 1
create_stream cons-tol 1
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" cons-rd --plain 10 \
    --prefix rd- >"$T/rd.json" || fail "writing cons-rd"
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" cons-tol --plain 200 \
    --prefix tol- >"$T/tol.json" || fail "writing cons-tol"

HTTP_PORT=$(free_port)
cat >"$T/kd.yaml" <<YAML
application-name: t-cons-batches
socket: $T/kd.sock
http-listen: 127.0.0.1:$HTTP_PORT
log: { level: debug, format: text }
default-consumer:
  checkpointer: { intervalMillis: 200 }
  kcl: { idleTimeBetweenReadsInMillis: 200 }
consumers:
  redeliver:
    stream-name: cons-rd
    worker: { batchTimeoutSeconds: 2, failedMessageRetries: 1,
              failureTolerancePercentage: 0 }
    kcl: { tableName: t-batches-redeliver }
  failing:
    stream-name: cons-rd
    worker: { batchTimeoutSeconds: 1, failedMessageRetries: 1,
              failureTolerancePercentage: 0 }
    kcl: { tableName: t-batches-failing }
  tolerant:
    stream-name: cons-tol
    worker: { batchTimeoutSeconds: 1, failedMessageRetries: 0,
              failureTolerancePercentage: 1.0 }
    kcl: { tableName: t-batches-tolerant }
YAML
start_kinesisd "$T/kd.yaml"

# redeliver: rd-plain-3 is acked only the second time; rd-plain-5 is
# skipped.  Then 5 more records: the batch went on.
$PY "$TOP/tests/lib/kdconsume.py" "$KD_SOCK" redeliver --out "$T/redeliver.jsonl" \
    --late rd-plain-3 --skip rd-plain-5 --count 15 --stay \
    --done "$T/redeliver.done" --timeout 60 &
PIDS="$PIDS $!"
# failing: rd-plain-3 is never acked.
$PY "$TOP/tests/lib/kdconsume.py" "$KD_SOCK" failing --out "$T/failing.jsonl" \
    --hold rd-plain-3 --timeout 12 &
FPID=$!
PIDS="$PIDS $FPID"
# tolerant: 1 of 200 never acked; 2 are allowed (1.0% of 200).
$PY "$TOP/tests/lib/kdconsume.py" "$KD_SOCK" tolerant --out "$T/tolerant.jsonl" \
    --hold tol-plain-7 --count 205 --stay --done "$T/tolerant.done" \
    --timeout 60 &
PIDS="$PIDS $!"

sleep 5
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" cons-rd --plain 5 \
    --prefix x- >/dev/null || fail "writing more to cons-rd"
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" cons-tol --plain 5 \
    --prefix x- >/dev/null || fail "writing more to cons-tol"
for c in redeliver tolerant; do
	i=0
	while [ ! -f "$T/$c.done" ]; do
		i=$((i + 1))
		[ $i -lt 400 ] || fail "$c: stuck at $(grep -c '"record"' "$T/$c.jsonl") records"
		sleep 0.1
	done
done
wait "$FPID"

$PY - "$T" <<'PYEOF' || fail "batches misbehaved"
import base64, json, sys
t = sys.argv[1]
def load(name):
    out = []
    for l in open("%s/%s.jsonl" % (t, name)):
        m = json.loads(l)
        if m.get("op") == "record":
            m["text"] = base64.b64decode(m["data"]).decode()
        out.append(m)
    return out
bad = []
def check(cond, what):
    if not cond:
        bad.append(what)

r = load("redeliver")
recs = [m for m in r if m.get("op") == "record"]
times = [m["_t"] for m in recs if m["text"] == "rd-plain-3"]
check(len(times) == 2, "redeliver: rd-plain-3 came %d times" % len(times))
if len(times) == 2:
    check(1.8 <= times[1] - times[0] <= 4,
          "redeliver: again after %.1fs, want about 2" % (times[1] - times[0]))
for i in range(10):
    if i != 3:
        n = sum(1 for m in recs if m["text"] == "rd-plain-%d" % i)
        check(n == 1, "redeliver: rd-plain-%d came %d times" % (i, n))
check(sum(1 for m in recs if m["text"].startswith("x-")) == 5,
      "redeliver: the batch did not go on")
check(not any(m.get("op") == "consumer_failure" for m in r),
      "redeliver: consumer_failure")

f = load("failing")
recs = [m for m in f if m.get("op") == "record"]
fails = [m for m in f if m.get("op") == "consumer_failure"]
check(sum(1 for m in recs if m["text"] == "rd-plain-3") == 2,
      "failing: rd-plain-3 not delivered exactly twice")
check(len(fails) == 1, "failing: %d consumer_failure events" % len(fails))
if fails:
    seq3 = [m["seq"] for m in recs if m["text"] == "rd-plain-3"][0]
    check(fails[0]["failed"] == [{"seq": seq3, "subseq": 0}],
          "failing: failed is %s" % fails[0]["failed"])
    check(fails[0]["shard"] == "shardId-000000000000", "failing: shard")
    check(not any(m["_t"] > fails[0]["_t"] for m in recs),
          "failing: records after consumer_failure")
check(not any(m["text"].startswith("x-") for m in recs),
      "failing: the shard went on after consumer_failure")

tl = load("tolerant")
recs = [m for m in tl if m.get("op") == "record"]
check(not any(m.get("op") == "consumer_failure" for m in tl),
      "tolerant: consumer_failure within the tolerance")
check(sum(1 for m in recs if m["text"] == "tol-plain-7") == 1,
      "tolerant: the held record was redelivered with 0 retries")
check(sum(1 for m in recs if m["text"].startswith("x-")) == 5,
      "tolerant: the batch did not go on")
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
PYEOF

curl -fsS "http://127.0.0.1:$HTTP_PORT/metrics" >"$T/metrics.txt" || fail "/metrics"
grep -q 'kinesisd_records_skipped_total{consumer="redeliver"} 1' "$T/metrics.txt" ||
    fail "skipped_total is not 1"
grep -q 'kinesisd_records_redelivered_total{consumer="redeliver"} 1' "$T/metrics.txt" ||
    fail "redelivered_total is not 1"
grep -q 'kinesisd_consumer_failures_total{consumer="failing"} 1' "$T/metrics.txt" ||
    fail "consumer_failures_total is not 1"
grep -q 'kinesisd_shards_held{consumer="failing"} 0' "$T/metrics.txt" ||
    fail "the failed shard is still held"

# The failed shard's lease: released, at the acked prefix (rd-plain-2).
$PY - "$KD_SOCK" "$T/rd.json" <<'PYEOF' || fail "failing: lease not released at the prefix"
import json, socket, sys
want = json.load(open(sys.argv[2]))["records"][2]["seq"]
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b'{"op":"leases","consumer":"failing","id":1}\n')
buf = b""
while b"\n" not in buf:
    buf += s.recv(65536)
m = json.loads(buf.split(b"\n")[0])
l = m["leases"][0]
ok = l["owner"] is None and l["checkpoint"] == want and l["subseq"] == 0
if not ok:
    print("lease %s, want unowned at %s" % (l, want), file=sys.stderr)
sys.exit(0 if ok else 1)
PYEOF
note "redelivery after batchTimeoutSeconds, skips, consumer_failure, tolerance"

kill -TERM "$KD_PID"
wait "$KD_PID" || fail "SIGTERM: kinesisd exited $?"
exit 0
