#!/bin/sh
# SIGTERM with a record still unacked: the batch gets until
# shutdownTimeoutSeconds, then the acked prefix is checkpointed, the
# lease released, consumer_shutdown sent, and kinesisd exits 0 in time; a
# restart starts right after the prefix.  A consumer with
# gracefulShutdownHook false stops at once, without consumer_shutdown.
. "$(dirname "$0")/../lib/common.sh"

start_kinesalite
start_dynalite
create_stream cons-sd 1
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" cons-sd --plain 100 \
    --prefix sd- >"$T/expected.json" || fail "writing the records"

cat >"$T/kd.yaml" <<YAML
application-name: t-cons-sd
socket: $T/kd.sock
http-listen: ""
log: { level: debug, format: text }
consumers:
  graceful:
    stream-name: cons-sd
    worker: { shutdownTimeoutSeconds: 4, batchTimeoutSeconds: 30 }
    checkpointer: { intervalMillis: 200 }
    kcl: { tableName: t-sd-graceful }
  abrupt:
    stream-name: cons-sd
    worker: { gracefulShutdownHook: false }
    kcl: { tableName: t-sd-abrupt }
YAML
start_kinesisd "$T/kd.yaml"
$PY "$TOP/tests/lib/kdconsume.py" "$KD_SOCK" graceful --out "$T/g.jsonl" \
    --hold sd-plain-50 --count 100 --stay --done "$T/g.done" --timeout 60 &
GPID=$!
PIDS="$PIDS $GPID"
$PY "$TOP/tests/lib/kdconsume.py" "$KD_SOCK" abrupt --out "$T/a.jsonl" \
    --count 100 --stay --done "$T/a.done" --timeout 60 &
APID=$!
PIDS="$PIDS $APID"
for c in g a; do
	i=0
	while [ ! -f "$T/$c.done" ]; do
		i=$((i + 1))
		[ $i -lt 300 ] || fail "$c: the records did not come"
		sleep 0.1
	done
done
sleep 1
start=$(date +%s)
kill -TERM "$KD_PID"
wait "$KD_PID"
rc=$?
took=$(($(date +%s) - start))
[ $rc -eq 0 ] || fail "SIGTERM: kinesisd exited $rc"
[ $took -ge 2 ] || fail "the unacked batch got no time ($took s)"
[ $took -le 6 ] || fail "shutdown took $took s, beyond shutdownTimeoutSeconds 4"
wait "$GPID"
wait "$APID"
[ "$($PY "$TOP/tests/lib/kdcheck.py" count "$T/g.jsonl" consumer_shutdown)" = 1 ] ||
    fail "graceful: no consumer_shutdown"
[ "$($PY "$TOP/tests/lib/kdcheck.py" count "$T/a.jsonl" consumer_shutdown)" = 0 ] ||
    fail "abrupt: consumer_shutdown without the hook"
grep -q '"shutdown"' "$T/a.jsonl" || fail "abrupt: no shutdown event"

# The checkpoint is the record before the held one: a restart sends
# sd-plain-50 first, and no earlier record.
$PY - "$T/expected.json" >"$T/last.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))["records"][49]
json.dump({r["shard"]: [r["seq"], 0]}, sys.stdout)
PYEOF
rm -f "$T/kd.sock"
start_kinesisd "$T/kd.yaml" kinesisd2
$PY "$TOP/tests/lib/kdcheck.py" leases "$KD_SOCK" graceful "$T/last.json" ||
    fail "graceful: the lease does not hold the acked prefix"
$PY "$TOP/tests/lib/kdconsume.py" "$KD_SOCK" graceful --out "$T/g2.jsonl" \
    --count 50 || fail "graceful: the rest did not come"
first=$($PY -c '
import base64, json, sys
for l in open(sys.argv[1]):
    m = json.loads(l)
    if m["op"] == "record":
        print(base64.b64decode(m["data"]).decode()); break' "$T/g2.jsonl")
[ "$first" = sd-plain-50 ] || fail "graceful: the restart began with $first"
note "SIGTERM in ${took}s: acked prefix checkpointed, consumer_shutdown; hook off: none"

kill -TERM "$KD_PID"
wait "$KD_PID" || fail "second SIGTERM: kinesisd exited $?"
exit 0
