#!/bin/sh
# kinesis/ against kinesis-local, which does what kinesalite does not:
# ListShards pagination (MaxResults + NextToken) and ShardFilter, checked
# against the AWS CLI; ChildShards at a shard's end; HTTPS, with the
# certificate verified (and refused: it is self-signed) or not (-k).
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/kdaws.sh"

# As start_kinesis_local, keeping the TLS port for the HTTPS checks.
kl="$TOP/node_modules/kinesis-local"
[ -f "$kl/main.js" ] || fail "kinesis-local missing: run 'make deps'"
KINESIS_PORT=$(free_port)
TLS_PORT=$(free_port)
KINESIS_MOCK_PLAIN_PORT=$KINESIS_PORT KINESIS_MOCK_TLS_PORT=$TLS_PORT \
KINESIS_MOCK_CERT_PATH="$kl/server.json" \
CREATE_STREAM_DURATION=0ms DELETE_STREAM_DURATION=0ms \
SPLIT_SHARD_DURATION=0ms MERGE_SHARDS_DURATION=0ms \
UPDATE_SHARD_COUNT_DURATION=0ms LOG_LEVEL=WARN \
    spawn kinesis-local node "$kl/main.js"
wait_port "$KINESIS_PORT" 90 || fail "kinesis-local did not start"
wait_port "$TLS_PORT" 30 || fail "kinesis-local's TLS port did not open"
export KINESIS_URL="http://127.0.0.1:$KINESIS_PORT"
export AWS_ENDPOINT_URL_KINESIS="$KINESIS_URL"

create_stream s5 5

# --- pagination
kdaws_ok all kinesis ListShards '{"StreamName":"s5"}'
aws_kinesis list-shards --stream-name s5 >"$T/all_cli.json" ||
    fail "aws list-shards"
IDS='[s["ShardId"] for s in d["Shards"]]'
same all "$IDS" all_cli "$IDS" "ListShards differs from the CLI's"
expect all 'len(d["Shards"]) == 5 and d["Pages"] == 1' "5 shards, 1 page"
kdaws_ok p2 kinesis ListShards '{"StreamName":"s5","MaxResults":2}'
expect p2 'd["Pages"] == 3' "MaxResults 2 over 5 shards must take 3 pages"
same p2 'd["Shards"]' all 'd["Shards"]' "paginated ListShards differs"
kdaws_ok p1 kinesis ListShards '{"StreamName":"s5","MaxResults":1}'
expect p1 'd["Pages"] == 5' "MaxResults 1 over 5 shards must take 5 pages"
same p1 'd["Shards"]' all 'd["Shards"]' "paginated ListShards differs"
kdaws_ok ex kinesis ListShards \
    '{"StreamName":"s5","ExclusiveStartShardId":"shardId-000000000002"}'
expect ex "$IDS == ['shardId-000000000003', 'shardId-000000000004']" \
    "ExclusiveStartShardId"

# Records on shard 0, to be found again when it has closed.
$PY - "$T/put_in.json" <<'PYEOF'
import base64, json, sys
recs = [{"PartitionKey": "k%d" % i, "ExplicitHashKey": str(i),
         "Data": base64.b64encode(b"parent %d" % i).decode()} for i in range(6)]
json.dump({"StreamName": "s5", "Records": recs}, open(sys.argv[1], "w"))
PYEOF
kdaws_ok put kinesis PutRecords "@$T/put_in.json"
expect put 'd["FailedRecordCount"] == 0 and
    {r["ShardId"] for r in d["Records"]} == {"shardId-000000000000"}' \
    "PutRecords to shard 0"

# --- ShardFilter, after a split closes shard 0
SPLIT_AT=34028236692093846346337460743176821145
aws_kinesis split-shard --stream-name s5 --shard-to-split shardId-000000000000 \
    --new-starting-hash-key $SPLIT_AT || fail "aws split-shard"
aws_kinesis wait stream-exists --stream-name s5 || fail "stream after split"
OPEN="['shardId-00000000000%d' % i for i in (1, 2, 3, 4, 5, 6)]"
ALL="['shardId-00000000000%d' % i for i in range(7)]"
filter() { # NAME FILTER-JSON [MAXRESULTS]
	kdaws_ok "$1" kinesis ListShards \
	    "{\"StreamName\":\"s5\",\"ShardFilter\":$2${3:+,\"MaxResults\":$3}}"
}
filter latest '{"Type":"AT_LATEST"}'
expect latest "$IDS == $OPEN" "AT_LATEST must list the open shards only"
aws_kinesis list-shards --stream-name s5 --shard-filter Type=AT_LATEST \
    >"$T/latest_cli.json" || fail "aws list-shards AT_LATEST"
same latest "$IDS" latest_cli "$IDS" "AT_LATEST differs from the CLI's"
filter trim '{"Type":"AT_TRIM_HORIZON"}'
expect trim "$IDS == $ALL" "AT_TRIM_HORIZON must list every shard"
filter from '{"Type":"FROM_TRIM_HORIZON"}'
expect from "$IDS == $ALL" "FROM_TRIM_HORIZON must list every shard"
filter after '{"Type":"AFTER_SHARD_ID","ShardId":"shardId-000000000002"}'
expect after "$IDS == ['shardId-00000000000%d' % i for i in (3, 4, 5, 6)]" \
    "AFTER_SHARD_ID"
NOW=$($PY -c 'import time; print(int(time.time()))')
filter ts "{\"Type\":\"AT_TIMESTAMP\",\"Timestamp\":$NOW}"
expect ts "$IDS == $OPEN" "AT_TIMESTAMP now must list the open shards"
filter fts "{\"Type\":\"FROM_TIMESTAMP\",\"Timestamp\":$((NOW - 3600))}"
expect fts "$IDS == $ALL" "FROM_TIMESTAMP an hour ago must list every shard"
# The filter goes with the first page only; the token carries it on.
filter lp '{"Type":"AT_LATEST"}' 2
expect lp 'd["Pages"] == 3' "AT_LATEST with MaxResults 2 must take 3 pages"
same lp "$IDS" latest "$IDS" "paginated AT_LATEST differs"
expect latest '[s.get("ParentShardId") for s in d["Shards"][4:]] ==
    ["shardId-000000000000"] * 2' "the children's ParentShardId"

# --- the closed parent: its records, then its end and its children.
kdaws_ok it kinesis GetShardIterator \
    '{"StreamName":"s5","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"}'
it=$(jv it 'd["ShardIterator"]')
n=0
: >"$T/keys.txt"
while [ "$it" != None ]; do
	n=$((n + 1))
	[ $n -lt 20 ] || fail "the closed shard never ended"
	kdaws_ok end kinesis GetRecords "{\"ShardIterator\":\"$it\",\"Limit\":4}"
	jv end '" ".join(r["PartitionKey"] for r in d["Records"])' >>"$T/keys.txt"
	it=$(jv end 'd["NextShardIterator"]')
done
[ "$(tr '\n' ' ' <"$T/keys.txt" | tr -s ' ')" = "k0 k1 k2 k3 k4 k5 " ] ||
    fail "the parent's records: $(cat "$T/keys.txt")"
expect end 'sorted(c["ShardId"] for c in d["ChildShards"]) ==
    ["shardId-000000000005", "shardId-000000000006"]' "ChildShards at shard end"
expect end 'all(c["ParentShards"] == ["shardId-000000000000"] for c in d["ChildShards"])' \
    "the children's parents"
expect end "sorted(c['HashKeyRange']['StartingHashKey'] for c in d['ChildShards']) ==
    ['0', '$SPLIT_AT']" "the children's hash ranges"

# --- MillisBehindLatest is reported (and real here, unlike kinesalite).
kdaws_ok it5 kinesis GetShardIterator \
    '{"StreamName":"s5","ShardId":"shardId-000000000005","ShardIteratorType":"LATEST"}'
kdaws_ok mbl kinesis GetRecords \
    "{\"ShardIterator\":\"$(jv it5 'd["ShardIterator"]')\"}"
expect mbl 'd["MillisBehindLatest"] >= 0 and d["NextShardIterator"]' \
    "MillisBehindLatest on an open shard"

# --- HTTPS: the self-signed certificate is refused unless -k.
export AWS_ENDPOINT_URL_KINESIS="https://127.0.0.1:$TLS_PORT"
kdaws_err tlsbad kinesis DescribeStreamSummary \
    '{"StreamName":"s5"}'
expect tlsbad '"certificate" in d["Error"]["Message"] and
    d["Error"]["Class"] == "terminal" and d["Error"]["Attempts"] == 1' \
    "an unverifiable certificate must be a terminal error"
kdaws_ok tlsok -k kinesis DescribeStreamSummary \
    '{"StreamName":"s5"}'
expect tlsok 'd["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"' \
    "DescribeStreamSummary over HTTPS"
grep -q "not verified" "$T/tlsok.err" ||
    fail "-k must warn that certificates are not verified"
kdaws_ok tlsls -k kinesis ListShards \
    '{"StreamName":"s5","MaxResults":3}'
expect tlsls 'd["Pages"] == 3 and len(d["Shards"]) == 7' \
    "paginated ListShards over HTTPS"
exit 0
