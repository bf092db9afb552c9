#!/bin/sh
# kill -9 in the middle of producing, ten rounds: each round starts
# kinesisd, puts at a steady rate (through the fault proxy holding a third
# of the PutRecords replies back, so that requests are in flight), and
# kills the daemon with SIGKILL at a random moment.  Afterwards the stream
# is read back with boto3 and aws-kinesis-agg: every record that got
# put_ok in any round is where its put_ok said.  Unanswered puts may or
# may not be in the stream -- that is what "not acknowledged" means.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/faults/lib.sh"

ROUNDS=${KILL_ROUNDS:-10}
start_kinesalite
create_stream kill2 2
start_faultproxy kproxy "$KINESIS_URL"
KPROXY=$FP_URL
fault_set "$KPROXY" '[{"op": "PutRecords", "action": "slow", "after": 1, "delay_ms": 150, "p": 0.3}]'
cat >"$T/kd.yaml" <<YAML
socket: $T/kd.sock
http-listen: ""
endpoints: { kinesis: "$KPROXY" }
producers:
  p:
    stream-name: kill2
    kpl: { RecordMaxBufferedTime: 100 }
YAML

r=1
loads=""
while [ $r -le "$ROUNDS" ]; do
	start_kinesisd "$T/kd.yaml" "kinesisd-$r"
	$PY "$FAULTS/putload.py" "$KD_SOCK" "$T/load-$r.json" --prefix "k$r" \
	    --rate 1500 --seconds 5 --drain 10 &
	LOAD=$!
	sleep "0.$(rand_ms 150 999)"
	kill9 "$KD_PID"
	wait "$LOAD" || fail "round $r: put load"
	loads="$loads $T/load-$r.json"
	r=$((r + 1))
done

read_users kill2 "$T/users.json"
# shellcheck disable=SC2086
$PY "$FAULTS/check_puts.py" "$T/users.json" $loads ||
    fail "a record acknowledged with put_ok is missing after kill -9"
$PY - $loads <<'PYEOF' || fail "the kills did not land mid-flight"
import json, sys
hit = 0
for p in sys.argv[1:]:
    d = json.load(open(p))
    ok = sum(1 for m in d["results"].values() if m["op"] == "put_ok")
    assert d["eof"], "%s: the daemon was not killed during the load" % p
    if ok > 0 and len(d["results"]) < len(d["sent"]):
        hit += 1
assert hit >= len(sys.argv[1:]) // 2, "only %d rounds killed with puts in flight" % hit
print("  %d of %d rounds killed with puts acknowledged and puts in flight"
      % (hit, len(sys.argv[1:])))
PYEOF
exit 0
