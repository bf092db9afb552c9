#!/bin/sh
# Resharding (SPEC section 4, the KCL's parent check): after
# `aws kinesis split-shard` shard sync creates the children's leases with
# parentShardId and TRIM_HORIZON; no worker takes them while the parent's
# lease is short of SHARD_END; once its holder ends the shard (SHARD_END,
# childShardIds) both children are taken; with
# cleanupLeasesUponShardCompletion the parent's lease is deleted once
# both children have checkpointed, and never created again.
. "$(dirname "$0")/../lib/common.sh"

KDL=${KDLEASE:-$TOP/build/plain/kdlease}
if [ -z "${KDLEASE:-}" ]; then
	make -s -C "$TOP" build/plain/kdlease >/dev/null 2>&1 ||
	    fail "cannot build kdlease"
fi
TABLE=split-leases
P=shardId-000000000000
C1=shardId-000000000001
C2=shardId-000000000002

start_kinesalite
start_dynalite
create_stream sp 1

# start_worker NAME FD
start_worker() {
	mkfifo "$T/$1.in"
	spawn "$1" sh -c "exec '$KDL' -s sp -t $TABLE -w $1 -f 3000 -T 1000 \
	    -S 1500 -P 1000 -C -c 500 < '$T/$1.in'"
	eval "PID_$1=\$LAST_PID"
	eval "exec $2>'$T/$1.in'"
}

# wait_log FILE PATTERN SECONDS
wait_log() {
	n=0
	until grep -q "$2" "$1"; do
		n=$((n + 1))
		[ $n -lt $(($3 * 10)) ] || return 1
		sleep 0.1
	done
}

table_json() {
	aws_dynamodb scan --table-name $TABLE --consistent-read --output json
}

start_worker w1 3
wait_log "$T/w1.log" "^acquired $P TRIM_HORIZON" 10 || fail "w1 did not take $P"
# A second worker: it must not steal the lone parent (1 lease, target 1,
# w1 at target) and must not take the children early either.
start_worker w2 4
sleep 1

aws_kinesis split-shard --stream-name sp --shard-to-split $P \
    --new-starting-hash-key 170141183460469231731687303715884105728 ||
    fail "split-shard"
aws_kinesis wait stream-exists --stream-name sp || fail "stream not active"

# Shard sync (every 1.5 s) creates the children's leases.
n=0
while :; do
	table_json >"$T/t1.json" || fail "scan"
	$PY - "$T/t1.json" <<'PYEOF' && break
import json, sys
items = {i["leaseKey"]["S"]: i for i in json.load(open(sys.argv[1]))["Items"]}
for c in ("shardId-000000000001", "shardId-000000000002"):
    i = items.get(c)
    if i is None:
        sys.exit(1)
    assert i["parentShardId"] == {"SS": ["shardId-000000000000"]}, i
    assert i["checkpoint"] == {"S": "TRIM_HORIZON"}, i
    assert "startingHashKey" in i and "endingHashKey" in i, i
sys.exit(0)
PYEOF
	n=$((n + 1))
	[ $n -lt 40 ] || fail "children leases did not appear"
	sleep 0.25
done
note "children leases created with parentShardId"

# Several taker rounds and parent polls: nobody takes a child.
sleep 3.5
grep -h "^acquired shardId-00000000000[12]" "$T/w1.log" "$T/w2.log" &&
    fail "a child was taken before its parent reached SHARD_END"
grep -q "^lost $P" "$T/w1.log" && fail "w1 lost the parent"

# w1 ends the parent: SHARD_END with childShardIds, owner removed.
echo "end $P $C1 $C2" >&3
wait_log "$T/w1.log" "^ended $P ok" 10 || fail "end of $P failed"
table_json >"$T/t2.json" || fail "scan"
$PY - "$T/t2.json" <<'PYEOF' || fail "the parent's lease is not at SHARD_END"
import json, sys
items = {i["leaseKey"]["S"]: i for i in json.load(open(sys.argv[1]))["Items"]}
p = items["shardId-000000000000"]
assert p["checkpoint"] == {"S": "SHARD_END"}, p
assert sorted(p["childShardIds"]["SS"]) == ["shardId-000000000001",
                                            "shardId-000000000002"], p
assert "leaseOwner" not in p, p
PYEOF

# Both children are taken now, from TRIM_HORIZON; then split one each.
for c in $C1 $C2; do
	n=0
	until grep -qh "^acquired $c TRIM_HORIZON 0 " "$T/w1.log" "$T/w2.log"; do
		n=$((n + 1))
		[ $n -lt 100 ] || fail "$c was not taken after SHARD_END"
		sleep 0.1
	done
done
note "children taken after SHARD_END"
n=0
while :; do
	o=$("$KDL" -l -t $TABLE | awk '$1 == "lease" && $2 != "'$P'" { print $3 }' |
	    sort | tr '\n' ' ')
	[ "$o" = "w1 w2 " ] && break
	n=$((n + 1))
	[ $n -lt 100 ] || fail "children not split one each: $o"
	sleep 0.1
done

# Both children checkpoint: the parent's lease is cleaned up by the next
# shard sync, and stays gone.
i=0
for c in $C1 $C2; do
	i=$((i + 1))
	owner=$("$KDL" -l -t $TABLE | awk '$1 == "lease" && $2 == "'$c'" { print $3 }')
	case $owner in
	w1) fd=3 ;;
	w2) fd=4 ;;
	*) fail "$c owned by '$owner'" ;;
	esac
	echo "checkpoint $c 4959000000000000000000000000000000000000000000000000000$i 0" >&$fd
	echo "flush $c" >&$fd
	wait_log "$T/$owner.log" "^flushed $c ok" 10 || fail "checkpoint of $c"
done
n=0
while "$KDL" -l -t $TABLE | grep -q "^lease $P "; do
	n=$((n + 1))
	[ $n -lt 100 ] || fail "the parent's lease was not cleaned up"
	sleep 0.1
done
note "parent lease deleted once both children began"
sleep 3.5
"$KDL" -l -t $TABLE | grep -q "^lease $P " &&
    fail "shard sync created the parent's lease again"

echo stop >&3
echo stop >&4
wait "$PID_w1" 2>/dev/null
wait "$PID_w2" 2>/dev/null
grep -q "^stopped ok" "$T/w1.log" || fail "w1 did not stop cleanly"
grep -q "^stopped ok" "$T/w2.log" || fail "w2 did not stop cleanly"
exit 0
