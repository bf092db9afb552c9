#!/bin/sh
# kinesis/ against kinesalite, through tests/tools/kdaws, every call
# cross-checked with the AWS CLI: DescribeStreamSummary, ListShards,
# PutRecords (binary data, explicit hash keys, megabyte records),
# GetShardIterator of every type, GetRecords (paging, shard end), error
# types, and the request timeout holding when kinesalite never answers.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/kdaws.sh"

start_kinesalite
create_stream s1 2
MAXKEY=340282366920938463463374607431768211455

# --- DescribeStreamSummary
kdaws_ok sum kinesis DescribeStreamSummary '{"StreamName":"s1"}'
aws_kinesis describe-stream-summary --stream-name s1 >"$T/sum_cli.json" ||
    fail "aws describe-stream-summary"
expect sum 'd["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"' \
    "stream not ACTIVE"
expect sum 'd["StreamDescriptionSummary"]["OpenShardCount"] == 2' \
    "OpenShardCount"
for f in StreamName StreamARN RetentionPeriodHours; do
	same sum "d['StreamDescriptionSummary']['$f']" \
	    sum_cli "d['StreamDescriptionSummary']['$f']" "summary $f"
done
kdaws_err nf kinesis DescribeStreamSummary '{"StreamName":"nope"}'
expect nf 'd["Error"]["Type"] == "ResourceNotFoundException"' "missing stream"
expect nf 'd["Error"]["Class"] == "terminal" and d["Error"]["Attempts"] == 1' \
    "ResourceNotFound must not be retried"

# --- ListShards
kdaws_ok ls kinesis ListShards '{"StreamName":"s1"}'
aws_kinesis list-shards --stream-name s1 >"$T/ls_cli.json" ||
    fail "aws list-shards"
same ls 'sorted((s["ShardId"], s["HashKeyRange"]["StartingHashKey"],
    s["HashKeyRange"]["EndingHashKey"],
    s["SequenceNumberRange"]["StartingSequenceNumber"]) for s in d["Shards"])' \
    ls_cli 'sorted((s["ShardId"], s["HashKeyRange"]["StartingHashKey"],
    s["HashKeyRange"]["EndingHashKey"],
    s["SequenceNumberRange"]["StartingSequenceNumber"]) for s in d["Shards"])' \
    "ListShards differs from the CLI's"
expect ls 'd["Pages"] == 1 and "ParentShardId" not in d["Shards"][0]' \
    "ListShards pages/parents"

# --- PutRecords: binary data of every length up to 300 bytes, two
# explicit hash keys pinning shards, and two 1 MB records.
$PY - "$T/put_in.json" "$MAXKEY" <<'PYEOF'
import base64, json, random, sys
random.seed(7)
recs = []
for i in range(30):
    data = bytes(random.randrange(256) for _ in range(1 + i * 10))
    recs.append({"PartitionKey": "key-%d" % i,
                 "Data": base64.b64encode(data).decode()})
recs.append({"PartitionKey": "low", "ExplicitHashKey": "0",
             "Data": base64.b64encode(b"\x00low\x00").decode()})
recs.append({"PartitionKey": "high", "ExplicitHashKey": sys.argv[2],
             "Data": base64.b64encode(b"\xffhigh").decode()})
for i in range(2):
    data = bytes([65 + i]) * 1000000
    recs.append({"PartitionKey": "big-%d" % i, "ExplicitHashKey": "1",
                 "Data": base64.b64encode(data).decode()})
json.dump({"StreamName": "s1", "Records": recs}, open(sys.argv[1], "w"))
PYEOF
kdaws_ok put kinesis PutRecords "@$T/put_in.json"
expect put 'd["FailedRecordCount"] == 0 and len(d["Records"]) == 34' \
    "PutRecords result count"
expect put 'all(r.get("ShardId") and r.get("SequenceNumber") for r in d["Records"])' \
    "a put record without shard or sequence number"
expect put 'd["Records"][30]["ShardId"] == "shardId-000000000000"' \
    "ExplicitHashKey 0 must go to shard 0"
expect put 'd["Records"][31]["ShardId"] == "shardId-000000000001"' \
    "ExplicitHashKey max must go to shard 1"

# The CLI reads back exactly what kdaws put, shard by shard.
for s in 0 1; do
	it=$(aws_kinesis get-shard-iterator --stream-name s1 \
	    --shard-id "shardId-00000000000$s" --shard-iterator-type TRIM_HORIZON \
	    --query ShardIterator --output text) || fail "aws get-shard-iterator"
	aws_kinesis get-records --shard-iterator "$it" >"$T/cli_recs$s.json" ||
	    fail "aws get-records shard $s"
done
$PY - "$T/put_in.json" "$T/put.json" "$T/cli_recs0.json" "$T/cli_recs1.json" <<'PYEOF' ||
import json, sys
sent = json.load(open(sys.argv[1]))["Records"]
got = json.load(open(sys.argv[2]))["Records"]
seen = {}
for f in sys.argv[3:]:
    for r in json.load(open(f))["Records"]:
        seen[r["SequenceNumber"]] = (r["PartitionKey"], r["Data"])
for s, g in zip(sent, got):
    want = (s["PartitionKey"], s["Data"])
    if seen.get(g["SequenceNumber"]) != want:
        sys.exit("record %s: the CLI reads %r" % (s["PartitionKey"],
                 str(seen.get(g["SequenceNumber"]))[:80]))
PYEOF
    fail "records put by kdaws differ when read by the CLI"

# --- and the other way round: put by the CLI, read by kdaws.
for i in 1 2 3; do
	aws_kinesis put-record --stream-name s1 --partition-key "cli-$i" \
	    --explicit-hash-key 0 --data "$(printf 'cli record %s' $i | base64)" \
	    >"$T/cliput$i.json" || fail "aws put-record"
done
kdaws_ok it0 kinesis GetShardIterator \
    '{"StreamName":"s1","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"}'
# Page through shard 0 five records at a time until it is drained.
: >"$T/seqs.txt"
it=$(jv it0 'd["ShardIterator"]')
pages=0
while :; do
	pages=$((pages + 1))
	[ $pages -lt 50 ] || fail "GetRecords paging never drained shard 0"
	kdaws_ok page kinesis GetRecords "{\"ShardIterator\":\"$it\",\"Limit\":5}"
	expect page 'len(d["Records"]) <= 5' "Limit 5 not honoured"
	expect page 'd["NextShardIterator"] is not None and "MillisBehindLatest" in d' \
	    "an open shard must give a next iterator and MillisBehindLatest"
	jv page '"\n".join(r["SequenceNumber"] + " " + r["PartitionKey"] + " " +
	    r["Data"] + " " + str(r["ApproximateArrivalTimestampMs"])
	    for r in d["Records"])' | sed '/^$/d' >>"$T/seqs.txt"
	[ "$(jv page 'len(d["Records"])')" -gt 0 ] || break
	it=$(jv page 'd["NextShardIterator"]')
done
$PY - "$T/seqs.txt" "$T/cli_recs0.json" "$T/cliput1.json" "$T/cliput3.json" <<'PYEOF' ||
import base64, json, sys, time
rows = [l.split() for l in open(sys.argv[1])]
seqs = [r[0] for r in rows]
cli = [r["SequenceNumber"] for r in json.load(open(sys.argv[2]))["Records"]]
if seqs[:len(cli)] != cli:
    sys.exit("kdaws and the CLI disagree on shard 0's order")
if [int(s) for s in seqs] != sorted(int(s) for s in seqs):
    sys.exit("records out of sequence order")
tail = rows[-3:]
first = json.load(open(sys.argv[3]))["SequenceNumber"]
last = json.load(open(sys.argv[4]))["SequenceNumber"]
if tail[0][0] != first or tail[2][0] != last:
    sys.exit("the CLI's records are not the last three")
for i, r in enumerate(tail):
    if r[1] != "cli-%d" % (i + 1) or base64.b64decode(r[2]) != b"cli record %d" % (i + 1):
        sys.exit("CLI record %d decoded wrong: %r" % (i + 1, r))
now = time.time() * 1000
if not all(now - 600000 < int(r[3]) <= now + 5000 for r in rows):
    sys.exit("an ApproximateArrivalTimestamp is not within the last minutes")
PYEOF
    fail "GetRecords paging over shard 0"
note "shard 0: $(wc -l <"$T/seqs.txt") records in $pages pages"

# --- every iterator type
SEQ_A=$(sed -n 5p "$T/seqs.txt" | cut -d' ' -f1)
SEQ_B=$(sed -n 6p "$T/seqs.txt" | cut -d' ' -f1)
TS_B=$(sed -n 6p "$T/seqs.txt" | cut -d' ' -f4)
first_after() { # NAME ITERATOR-REQUEST-JSON: the first record it yields
	kdaws_ok "$1" kinesis GetShardIterator "$2"
	kdaws_ok "$1_r" kinesis GetRecords \
	    "{\"ShardIterator\":\"$(jv "$1" 'd["ShardIterator"]')\",\"Limit\":1}"
}
SH0='"StreamName":"s1","ShardId":"shardId-000000000000"'
first_after at "{$SH0,\"ShardIteratorType\":\"AT_SEQUENCE_NUMBER\",\"StartingSequenceNumber\":\"$SEQ_A\"}"
expect at_r "d['Records'][0]['SequenceNumber'] == '$SEQ_A'" "AT_SEQUENCE_NUMBER"
first_after after "{$SH0,\"ShardIteratorType\":\"AFTER_SEQUENCE_NUMBER\",\"StartingSequenceNumber\":\"$SEQ_A\"}"
expect after_r "d['Records'][0]['SequenceNumber'] == '$SEQ_B'" "AFTER_SEQUENCE_NUMBER"
first_after ts0 "{$SH0,\"ShardIteratorType\":\"AT_TIMESTAMP\",\"Timestamp\":1000000000}"
expect ts0_r "d['Records'][0]['SequenceNumber'] == '$(head -n1 "$T/seqs.txt" | cut -d' ' -f1)'" \
    "AT_TIMESTAMP before everything must start at the first record"
first_after tsb "{$SH0,\"ShardIteratorType\":\"AT_TIMESTAMP\",\"Timestamp\":$(($TS_B / 1000)).$(printf %03d $(($TS_B % 1000)))}"
expect tsb_r "d['Records'][0]['ApproximateArrivalTimestampMs'] >= $TS_B and
    int(d['Records'][0]['SequenceNumber']) <= int('$SEQ_B')" "AT_TIMESTAMP"
first_after latest "{$SH0,\"ShardIteratorType\":\"LATEST\"}"
expect latest_r 'd["Records"] == []' "LATEST must see no old record"
aws_kinesis put-record --stream-name s1 --partition-key late \
    --explicit-hash-key 0 --data "$(printf late | base64)" >"$T/late.json" ||
    fail "aws put-record late"
kdaws_ok latest2 kinesis GetRecords \
    "{\"ShardIterator\":\"$(jv latest_r 'd["NextShardIterator"]')\"}"
same latest2 'd["Records"][0]["SequenceNumber"]' late 'd["SequenceNumber"]' \
    "LATEST must see the record put after it"
kdaws_err badit kinesis GetShardIterator \
    "{$SH0,\"ShardIteratorType\":\"AT_SEQUENCE_NUMBER\",\"StartingSequenceNumber\":\"1\"}"
expect badit 'd["Error"]["Type"] == "InvalidArgumentException"' \
    "a bad sequence number"

# --- shard end: split shard 1, read the parent until it closes.
aws_kinesis split-shard --stream-name s1 --shard-to-split shardId-000000000001 \
    --new-starting-hash-key 255211775190703847597530955573826158592 ||
    fail "aws split-shard"
aws_kinesis wait stream-exists --stream-name s1 || fail "stream after split"
kdaws_ok ls2 kinesis ListShards '{"StreamName":"s1"}'
expect ls2 'len(d["Shards"]) == 4 and
    d["Shards"][1]["SequenceNumberRange"].get("EndingSequenceNumber") and
    [s.get("ParentShardId") for s in d["Shards"][2:]] == ["shardId-000000000001"] * 2' \
    "ListShards after the split"
kdaws_ok it1 kinesis GetShardIterator \
    '{"StreamName":"s1","ShardId":"shardId-000000000001","ShardIteratorType":"TRIM_HORIZON"}'
it=$(jv it1 'd["ShardIterator"]')
n=0
while [ "$it" != None ]; do
	n=$((n + 1))
	[ $n -lt 20 ] || fail "the closed shard never ended"
	kdaws_ok end kinesis GetRecords "{\"ShardIterator\":\"$it\"}"
	it=$(jv end 'd["NextShardIterator"]')
done
note "closed shard read to its end in $n calls"

# --- a raw call passes through
kdaws_ok raw kinesis ListStreams '{}'
expect raw '"s1" in d["StreamNames"]' "ListStreams through aws_client_call"

# --- kinesalite never answers GetShardIterator AT_TIMESTAMP past the last
# record: the request timeout must end the call, and each retry too.
sleep 1
TS=$($PY -c 'import time; print("%.3f" % (time.time() - 0.3))')
REQ="{\"StreamName\":\"s1\",\"ShardId\":\"shardId-000000000002\",\"ShardIteratorType\":\"AT_TIMESTAMP\",\"Timestamp\":$TS}"
start=$($PY -c 'import time; print(time.time())')
kdaws_err hang -t 1500 -a 1 kinesis GetShardIterator "$REQ"
end=$($PY -c 'import time; print(time.time())')
expect hang 'd["Error"]["Class"] == "retriable" and d["Error"]["Status"] == 0 and
    "timed out" in d["Error"]["Message"]' "the hung request must time out"
$PY -c "import sys; sys.exit(not (1.4 <= $end - $start <= 6))" ||
    fail "a 1.5 s timeout took $($PY -c "print(round($end - $start, 2))") s"
start=$end
kdaws_err hang2 -t 700 -a 2 kinesis GetShardIterator "$REQ"
end=$($PY -c 'import time; print(time.time())')
expect hang2 'd["Error"]["Attempts"] == 2' "a timed-out call must be retried"
$PY -c "import sys; sys.exit(not (1.3 <= $end - $start <= 8))" ||
    fail "two 0.7 s attempts took $($PY -c "print(round($end - $start, 2))") s"
exit 0
