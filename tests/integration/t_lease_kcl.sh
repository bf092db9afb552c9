#!/bin/sh
# The lease table is the KCL's, attribute for attribute (SPEC section 4):
# a table made beforehand (as by infrastructure-as-code) is used, not
# recreated; a lease item written by hand the way the KCL writes it is
# resumed from exactly its checkpoint and sub-sequence number, keeping an
# attribute kinesisd does not know; the items kdlease writes read back
# with the KCL's names and types (checked with the AWS CLI); a KCL 3.x
# entity that is not a lease is left alone.
. "$(dirname "$0")/../lib/common.sh"

KDL=${KDLEASE:-$TOP/build/plain/kdlease}
if [ -z "${KDLEASE:-}" ]; then
	make -s -C "$TOP" build/plain/kdlease >/dev/null 2>&1 ||
	    fail "cannot build kdlease"
fi
TABLE=kcl-app-kcl

start_kinesalite
start_dynalite
create_stream kcl 2

aws_dynamodb create-table --table-name $TABLE \
    --attribute-definitions AttributeName=leaseKey,AttributeType=S \
    --key-schema AttributeName=leaseKey,KeyType=HASH \
    --billing-mode PAY_PER_REQUEST >/dev/null || fail "create-table"

# A real record in shard 0, whose sequence number the checkpoint names.
SEQ=$(aws_kinesis put-record --stream-name kcl --partition-key k \
    --explicit-hash-key 0 --data aGVsbG8= --query SequenceNumber \
    --output text) || fail "put-record"
[ -n "$SEQ" ] || fail "no sequence number"

# As a KCL 2.x worker that has since died leaves it.
cat >"$T/item.json" <<JSON
{"leaseKey": {"S": "shardId-000000000000"},
 "leaseOwner": {"S": "kcl-host:3f1e-dead"},
 "leaseCounter": {"N": "17"},
 "checkpoint": {"S": "$SEQ"},
 "checkpointSubSequenceNumber": {"N": "3"},
 "ownerSwitchesSinceCheckpoint": {"N": "0"},
 "startingHashKey": {"S": "0"},
 "endingHashKey": {"S": "170141183460469231731687303715884105727"},
 "throughputKBps": {"N": "1.5"}}
JSON
aws_dynamodb put-item --table-name $TABLE --item "file://$T/item.json" ||
    fail "put-item (lease)"
# A KCL 3.x entity that is not a lease.
aws_dynamodb put-item --table-name $TABLE --item \
    '{"leaseKey":{"S":"worker-metrics:kcl-host"},"entityType":{"S":"WORKER_METRICS"}}' ||
    fail "put-item (entity)"

mkfifo "$T/w1.in"
spawn w1 sh -c "exec '$KDL' -s kcl -t $TABLE -w w1 -f 3000 -T 500 \
    < '$T/w1.in'"
W1=$LAST_PID
exec 3>"$T/w1.in"

# The hand-written lease expires (its owner renews no more) and is taken,
# resuming exactly there; counter 17 -> 18.
n=0
until grep -q "^acquired shardId-000000000000 " "$T/w1.log"; do
	n=$((n + 1))
	[ $n -lt 150 ] || fail "the KCL-written lease was not acquired"
	sleep 0.1
done
grep -q "^acquired shardId-000000000000 $SEQ 3 18$" "$T/w1.log" ||
    fail "not resumed at $SEQ/3: $(grep '^acquired shardId-000000000000' "$T/w1.log")"
n=0
until grep -q "^acquired shardId-000000000001 TRIM_HORIZON 0 " "$T/w1.log"; do
	n=$((n + 1))
	[ $n -lt 50 ] || fail "shard 1's new lease was not acquired"
	sleep 0.1
done
grep -q "creating lease table" "$T/w1.log" &&
    fail "created a table that existed"

echo "checkpoint shardId-000000000001 49590338271490256608559692538361571095921575989136588898 5" >&3
echo "flush shardId-000000000001" >&3
n=0
until grep -q "^flushed shardId-000000000001 ok" "$T/w1.log"; do
	n=$((n + 1))
	[ $n -lt 50 ] || fail "checkpoint of shard 1 not written"
	sleep 0.1
done

# Read back with the AWS CLI: names, types, values.
aws_dynamodb scan --table-name $TABLE --consistent-read --output json \
    >"$T/scan.json" || fail "scan"
$PY - "$T/scan.json" "$SEQ" <<'PYEOF' || fail "lease items are not the KCL's: see above"
import json, sys
items = {i["leaseKey"]["S"]: i for i in json.load(open(sys.argv[1]))["Items"]}
seq = sys.argv[2]
def types(item):
    return {k: list(v.keys())[0] for k, v in item.items()}
ok = True
def check(cond, what):
    global ok
    if not cond:
        print("  " + what, file=sys.stderr); ok = False

s0 = items["shardId-000000000000"]
check(s0["leaseOwner"] == {"S": "w1"}, "shard 0 owner: %r" % s0.get("leaseOwner"))
check(s0["checkpoint"] == {"S": seq}, "shard 0 checkpoint: %r" % s0["checkpoint"])
check(s0["checkpointSubSequenceNumber"] == {"N": "3"}, "shard 0 subseq")
check(s0["ownerSwitchesSinceCheckpoint"] == {"N": "1"},
      "a take from another owner counts a switch: %r" % s0["ownerSwitchesSinceCheckpoint"])
check(int(s0["leaseCounter"]["N"]) >= 18, "shard 0 counter")
check(s0.get("throughputKBps") == {"N": "1.5"}, "an unknown attribute was dropped")

s1 = items["shardId-000000000001"]
want = {"leaseKey": "S", "leaseOwner": "S", "leaseCounter": "N",
        "checkpoint": "S", "checkpointSubSequenceNumber": "N",
        "ownerSwitchesSinceCheckpoint": "N", "startingHashKey": "S",
        "endingHashKey": "S"}
check(types(s1) == want, "shard 1 attributes: %r" % types(s1))
check(s1["checkpoint"]["S"] == "49590338271490256608559692538361571095921575989136588898",
      "shard 1 checkpoint")
check(s1["checkpointSubSequenceNumber"]["N"] == "5", "shard 1 subseq")
check(s1["ownerSwitchesSinceCheckpoint"]["N"] == "0", "shard 1 switches")
check(s1["startingHashKey"]["S"] == "170141183460469231731687303715884105728",
      "shard 1 starting hash key")

e = items["worker-metrics:kcl-host"]
check(sorted(e.keys()) == ["entityType", "leaseKey"], "the entity was touched: %r" % e)
sys.exit(0 if ok else 1)
PYEOF

# Stop: leases released (no leaseOwner), checkpoints kept.
echo stop >&3
wait "$W1" 2>/dev/null
grep -q "^stopped ok" "$T/w1.log" || fail "kdlease did not stop cleanly"
aws_dynamodb scan --table-name $TABLE --consistent-read --output json \
    >"$T/scan2.json" || fail "scan"
$PY - "$T/scan2.json" "$SEQ" <<'PYEOF' || fail "not released as expected"
import json, sys
items = {i["leaseKey"]["S"]: i for i in json.load(open(sys.argv[1]))["Items"]}
for k in ("shardId-000000000000", "shardId-000000000001"):
    assert "leaseOwner" not in items[k], k
assert items["shardId-000000000000"]["checkpoint"]["S"] == sys.argv[2]
assert items["shardId-000000000000"]["throughputKBps"] == {"N": "1.5"}
PYEOF
exit 0
