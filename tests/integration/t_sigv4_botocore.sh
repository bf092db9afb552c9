#!/bin/sh
# Issue 3's proof of signing: every request that kinesisd's aws/ code sends
# to kinesalite and dynalite passes an independent SigV4 check made by
# botocore on the same bytes (tests/tools/sigv4_proxy.py in front of each
# emulator, which accept any signature themselves).
#
# Credentials come from a NAMED profile of a shared credentials file
# (AWS_SHARED_CREDENTIALS_FILE + AWS_PROFILE), with the environment keys
# unset so the chain really reads the file; the profile carries a session
# token, so X-Amz-Security-Token signing is checked too.  Endpoints come
# from AWS_ENDPOINT_URL_KINESIS / AWS_ENDPOINT_URL_DYNAMODB.  The requests
# are made by tests/tools/kdaws (one call per run, through kinesis/,
# dynamo/ and aws/), then by kinesisd itself producing and consuming.
#
# A negative control (a wrong secret under the same key id, through a
# third proxy) must FAIL, so a checker that passes everything cannot pass
# this test.
. "$(dirname "$0")/../lib/common.sh"

KDAWS="$TOP/build/plain/kdaws"
PROXY="$TOP/tests/tools/sigv4_proxy.py"
REGION=us-east-1
[ -x "$KDAWS" ] || make -C "$TOP" build/plain/kdaws >/dev/null 2>&1 ||
    fail "tests/tools/kdaws is missing and does not build"
$PY -c 'import botocore' 2>/dev/null || fail "botocore missing (python3-botocore)"

start_kinesalite
start_dynalite

# --- the credentials: a decoy default profile, the named one we use.
cat >"$T/credentials" <<'EOF'
# kinesisd SigV4 proof
[default]
aws_access_key_id = AKIDDEFAULTDECOY0000
aws_secret_access_key = decoy-secret-must-not-be-used

[kd-sigv4]
aws_access_key_id     = AKIDKDSIGV4PROFILE01
aws_secret_access_key = kd/sigv4+Secret=Key0123456789abcdefghij
aws_session_token     = IQoJb3JpZ2luX2VjEKD//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+/=
EOF
# Same key id, another secret: what a broken signer would amount to.
sed 's#^aws_secret_access_key *= *kd/.*#aws_secret_access_key = not-the-secret#' \
    "$T/credentials" >"$T/credentials.wrong"
: >"$T/config"

# start_proxy NAME TARGET SERVICE: sets PROXY_URL; results in $T/NAME.results
start_proxy() {
	port=$(free_port)
	spawn "$1" $PY "$PROXY" --port "$port" --target "$2" --service "$3" \
	    --region "$REGION" --credentials-file "$T/credentials" \
	    --profile kd-sigv4 --results "$T/$1.results" --debug
	wait_port "$port" || fail "proxy $1 did not start"
	PROXY_URL="http://127.0.0.1:$port"
}
start_proxy proxy-kinesis "$KINESIS_URL" kinesis
KPROXY=$PROXY_URL
start_proxy proxy-dynamodb "$DYNAMO_URL" dynamodb
DPROXY=$PROXY_URL
start_proxy proxy-negative "$KINESIS_URL" kinesis
NPROXY=$PROXY_URL

# --- the client's environment: only the named profile can sign.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
    AWS_ACCESS_KEY AWS_SECRET_KEY AWS_SECURITY_TOKEN AWS_ENDPOINT_URL \
    AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN \
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI
export AWS_SHARED_CREDENTIALS_FILE="$T/credentials"
export AWS_CONFIG_FILE="$T/config"
export AWS_PROFILE=kd-sigv4
export AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL_KINESIS="$KPROXY"
export AWS_ENDPOINT_URL_DYNAMODB="$DPROXY"

n=0
# kd SERVICE OPERATION JSON: one call through kdaws; must succeed.
kd() {
	n=$((n + 1))
	"$KDAWS" -r "$REGION" -a 1 "$@" >"$T/kd.$n.out" 2>"$T/kd.$n.err" ||
	    fail "kdaws $1 $2 failed: $(cat "$T/kd.$n.out" "$T/kd.$n.err")"
}

# --- Kinesis
S=sigv4-stream
kd kinesis CreateStream "{\"StreamName\":\"$S\",\"ShardCount\":2}"
i=0
until "$KDAWS" -r "$REGION" kinesis DescribeStreamSummary \
    "{\"StreamName\":\"$S\"}" 2>/dev/null | grep -q '"ACTIVE"'; do
	i=$((i + 1))
	[ $i -lt 50 ] || fail "stream $S never became ACTIVE"
	sleep 0.1
done
kd kinesis ListShards "{\"StreamName\":\"$S\"}"
grep -q shardId- "$T/kd.$n.out" || fail "ListShards returned no shard"
# Bodies with characters that must be hashed, not escaped, by the signer.
kd kinesis PutRecords "{\"StreamName\":\"$S\",\"Records\":[
  {\"Data\":\"aGVsbG8=\",\"PartitionKey\":\"k 1/+=&?%\"},
  {\"Data\":\"d29ybGQ=\",\"PartitionKey\":\"cl\u00e9-\u65e5\u672c\"}]}"
grep -q '"FailedRecordCount":\s*0' "$T/kd.$n.out" ||
    fail "PutRecords failed: $(cat "$T/kd.$n.out")"
SHARD=$(sed -n 's/.*"ShardId":\s*"\(shardId-[0-9]*\)".*/\1/p' \
    "$T/kd.$n.out" | head -n 1)
kd kinesis GetShardIterator "{\"StreamName\":\"$S\",\"ShardId\":\"$SHARD\",
  \"ShardIteratorType\":\"TRIM_HORIZON\"}"
IT=$(sed -n 's/.*"ShardIterator":\s*"\([^"]*\)".*/\1/p' "$T/kd.$n.out")
[ -n "$IT" ] || fail "no shard iterator"
kd kinesis GetRecords "{\"ShardIterator\":\"$IT\",\"Limit\":10}"
grep -q '"Records"' "$T/kd.$n.out" || fail "GetRecords: no Records"

# --- DynamoDB
TB=sigv4-table
kd dynamodb CreateTable "{\"TableName\":\"$TB\",
  \"AttributeDefinitions\":[{\"AttributeName\":\"leaseKey\",\"AttributeType\":\"S\"}],
  \"KeySchema\":[{\"AttributeName\":\"leaseKey\",\"KeyType\":\"HASH\"}],
  \"BillingMode\":\"PAY_PER_REQUEST\"}"
kd dynamodb DescribeTable "{\"TableName\":\"$TB\"}"
kd dynamodb PutItem "{\"TableName\":\"$TB\",\"Item\":{
  \"leaseKey\":{\"S\":\"shardId-000000000000\"},\"leaseCounter\":{\"N\":\"1\"},
  \"leaseOwner\":{\"S\":\"w\u00f6rker 1\"}}}"
kd dynamodb UpdateItem "{\"TableName\":\"$TB\",
  \"Key\":{\"leaseKey\":{\"S\":\"shardId-000000000000\"}},
  \"UpdateExpression\":\"SET leaseCounter = :n\",
  \"ConditionExpression\":\"leaseCounter = :c\",
  \"ExpressionAttributeValues\":{\":n\":{\"N\":\"2\"},\":c\":{\"N\":\"1\"}}}"
kd dynamodb GetItem "{\"TableName\":\"$TB\",
  \"Key\":{\"leaseKey\":{\"S\":\"shardId-000000000000\"}},\"ConsistentRead\":true}"
kd dynamodb Scan "{\"TableName\":\"$TB\"}"
kd dynamodb DeleteItem "{\"TableName\":\"$TB\",
  \"Key\":{\"leaseKey\":{\"S\":\"shardId-000000000000\"}}}"

# --- kinesisd itself, producing and consuming through the same proxies:
# the daemon's PutRecords, ListShards, GetShardIterator, GetRecords and
# every lease-table call must pass botocore's check too.
before_k=$(wc -l <"$T/proxy-kinesis.results")
before_d=$(wc -l <"$T/proxy-dynamodb.results")
cat >"$T/kd.yaml" <<YAML
application-name: sigv4
socket: $T/kd.sock
http-listen: ""
region: $REGION
producers: { p: { stream-name: $S } }
consumers:
  c:
    stream-name: $S
    kcl: { initialPositionInStream: TRIM_HORIZON }
    checkpointer: { intervalMillis: 200 }
YAML
start_kinesisd "$T/kd.yaml"
"$TOP/kinesisctl" put p --key signed one two three >/dev/null ||
    fail "kinesisd put through the proxy"
timeout 60 "$TOP/kinesisctl" tail c -n 5 >"$T/tail.out" 2>/dev/null ||
    fail "kinesisd tail through the proxy"
grep -q '^three$' "$T/tail.out" || fail "tail: $(cat "$T/tail.out")"
kill -TERM "$KD_PID"
wait "$KD_PID" || fail "kinesisd exit code"
for op in PutRecords ListShards GetShardIterator GetRecords; do
	tail -n +$((before_k + 1)) "$T/proxy-kinesis.results" | grep -q "$op" ||
	    fail "kinesisd's $op did not go through the proxy"
done
for op in DescribeTable Scan UpdateItem; do
	tail -n +$((before_d + 1)) "$T/proxy-dynamodb.results" | grep -q "$op" ||
	    fail "kinesisd's $op did not go through the proxy"
done
note "kinesisd: $(($(wc -l <"$T/proxy-kinesis.results") - before_k)) Kinesis and $(($(wc -l <"$T/proxy-dynamodb.results") - before_d)) DynamoDB requests checked"

# --- the verdicts
for svc in kinesis dynamodb; do
	r="$T/proxy-$svc.results"
	[ -s "$r" ] || fail "no request reached the $svc proxy"
	pass=$(grep -c '^PASS ' "$r")
	bad=$(grep -vc '^PASS ' "$r")
	[ "$bad" -eq 0 ] || fail "$svc: $bad request(s) failed the botocore check:
$(grep -v '^PASS ' "$r")"
	[ "$pass" -ge 1 ] || fail "$svc: no request checked"
	note "$svc: $pass requests, all signatures match botocore's"
done

# --- negative control: a wrong secret must be caught.
AWS_SHARED_CREDENTIALS_FILE="$T/credentials.wrong" \
AWS_ENDPOINT_URL_KINESIS="$NPROXY" \
    "$KDAWS" -r "$REGION" -a 1 kinesis ListShards "{\"StreamName\":\"$S\"}" \
    >/dev/null 2>&1 || true
grep -q '^FAIL .*signature differs' "$T/proxy-negative.results" ||
    fail "negative control: a wrong secret was not detected"
grep -q '^PASS' "$T/proxy-negative.results" &&
    fail "negative control: a wrong secret passed"

# Nothing secret in what the proxies wrote.
for f in "$T"/proxy-*.results "$T"/proxy-*.log; do
	grep -q 'kd/sigv4+Secret\|IQoJb3JpZ2lu\|not-the-secret' "$f" &&
	    fail "a secret appears in $f"
done
exit 0
