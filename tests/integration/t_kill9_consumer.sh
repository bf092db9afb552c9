#!/bin/sh
# kill -9 in the middle of consuming, ten rounds (KILL_ROUNDS): 800 records
# a round (plain and KPL-aggregated, written by boto3) on a 2-shard stream;
# each round starts kinesisd (the same worker id, or every third round a
# new one that must wait for the dead worker's leases to expire), a
# subscriber acks every record, and SIGKILL comes at a random moment
# after the first record.
# leasewatch.py follows the lease table in dynalite throughout; after the
# rounds a last daemon finishes the stream.  check_consume.py proves:
# every record was acked (nothing lost), checkpoints never moved backwards
# nor past an unacked record, no record at or below a written checkpoint
# was delivered again (duplicates stay within the checkpoint bound), and
# after each kill every shard resumed right after its checkpoint.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/faults/lib.sh"

ROUNDS=${KILL_ROUNDS:-10}
start_kinesalite
start_dynalite
create_stream kc2 2
# 800 records a round, so that every round finds some still to consume.
HALF=$((400 * ROUNDS))
$PY "$TOP/tests/lib/kdrecords.py" "$KINESIS_URL" kc2 --plain $HALF \
    --agg $HALF --per-agg 20 >"$T/expected.json" || fail "writing the records"
TOTAL=$((2 * HALF))

mkconf() {
	cat >"$T/kd.yaml" <<YAML
application-name: kill9
socket: $T/kd.sock
http-listen: ""
consumers:
  c:
    stream-name: kc2
    checkpointer: { intervalMillis: 150 }
    kcl: { maxRecords: 50, idleTimeBetweenReadsInMillis: 100,
           failoverTimeMillis: 1000, workerId: $1 }
YAML
}

spawn leasewatch $PY "$FAULTS/leasewatch.py" "$DYNAMO_URL" kill9-kc2 \
    "$T/leases.jsonl" --seconds 400 --every 50
: >"$T/kills.jsonl"
logs=""
r=1
while [ $r -le "$ROUNDS" ]; do
	if [ $((r % 3)) = 0 ]; then mkconf "worker-round-$r"; else mkconf worker-fixed; fi
	start_kinesisd "$T/kd.yaml" "kinesisd-$r"
	rm -f "$T/first"
	$PY "$FAULTS/ackload.py" "$KD_SOCK" c "$T/acks-$r.jsonl" --first "$T/first" \
	    --timeout 60 &
	SUB=$!
	i=0
	while [ ! -f "$T/first" ] && [ $i -lt 300 ]; do
		i=$((i + 1)); sleep 0.05
	done
	[ -f "$T/first" ] || fail "round $r: no record within 15 s"
	sleep "0.$(rand_ms 100 999)"
	kill9 "$KD_PID"
	sleep 0.2
	$PY "$FAULTS/leasewatch.py" "$DYNAMO_URL" kill9-kc2 "$T/kill-$r.jsonl" --once
	cat "$T/kill-$r.jsonl" >>"$T/kills.jsonl"
	wait "$SUB"
	logs="$logs $T/acks-$r.jsonl"
	r=$((r + 1))
done

# The last daemon consumes what is left.
mkconf worker-fixed
start_kinesisd "$T/kd.yaml" kinesisd-final
prior=$(echo $logs | tr ' ' ',')
$PY "$FAULTS/ackload.py" "$KD_SOCK" c "$T/acks-final.jsonl" --target $TOTAL \
    --prior "$prior" --timeout 90 || fail "final subscriber"
sleep 0.5
kill -TERM "$KD_PID"; wait "$KD_PID" || fail "final SIGTERM: exit $?"
sleep 0.3

# shellcheck disable=SC2086
$PY "$FAULTS/check_consume.py" "$T/expected.json" "$T/leases.jsonl" $logs \
    "$T/acks-final.jsonl" --complete --kills "$T/kills.jsonl" ||
    fail "consumer lost a record or broke a checkpoint rule under kill -9"
$PY - "$T/kills.jsonl" "$ROUNDS" <<'PYEOF' || fail "the kills did not land mid-stream"
import json, sys
kills = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(kills) == int(sys.argv[2]), "%d kills recorded" % len(kills)
moved = sum(1 for k in kills if any(v[0] not in ("TRIM_HORIZON", "SHARD_END") for v in k["leases"].values()))
assert moved >= len(kills) // 2, "only %d kills found checkpoints written" % moved
print("  %d kills, %d with checkpoints written" % (len(kills), moved))
PYEOF
exit 0
