#!/bin/sh
# make demo: local Kinesis (kinesalite) and DynamoDB (dynalite) on loopback,
# a stream, kinesisd in front of them, and records flowing through it.
# Everything runs in a temporary folder and stops when the demo ends.
TOP=$(cd "$(dirname "$0")/.." && pwd)
export TOP
. "$TOP/tests/lib/common.sh"
# common.sh is the test harness; here failures only need to be loud.

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "starting kinesalite and dynalite on loopback"
start_kinesalite
start_dynalite
echo "kinesis:  $KINESIS_URL"
echo "dynamodb: $DYNAMO_URL"

say "creating stream demo-stream (2 shards) with the AWS CLI"
create_stream demo-stream 2
aws_kinesis describe-stream-summary --stream-name demo-stream \
    --query 'StreamDescriptionSummary.[StreamName,StreamStatus,OpenShardCount]' \
    --output text

cat >"$T/kinesisd.yaml" <<YAML
application-name: demo
socket: $T/kinesisd.sock
http-listen: 127.0.0.1:$(free_port)
endpoints: { kinesis: $KINESIS_URL, dynamodb: $DYNAMO_URL }
producers:
  demo-producer:
    stream-name: demo-stream
consumers:
  demo-consumer:
    stream-name: demo-stream
    kcl: { initialPositionInStream: TRIM_HORIZON }
YAML
say "starting kinesisd with $T/kinesisd.yaml"
cat "$T/kinesisd.yaml"
start_kinesisd "$T/kinesisd.yaml"

say "kinesisctl ping"
"$TOP/kinesisctl" ping || fail "kinesisd does not answer"

say "kinesisctl put demo-producer (5 records, one per line)"
printf 'hello\nfrom\nkinesisd\nrecord 4\nrecord 5\n' |
    "$TOP/kinesisctl" put demo-producer || fail "put"

say "kinesisctl tail demo-consumer -n 5 (subscribe, print, ack)"
timeout 60 "$TOP/kinesisctl" tail demo-consumer -n 5 || fail "tail"

say "kinesisctl leases demo-consumer (the KCL-compatible lease table)"
"$TOP/kinesisctl" leases demo-consumer || fail "leases"

say "the stream read back with the AWS CLI: KPL aggregates, one per shard"
for shard in shardId-000000000000 shardId-000000000001; do
	it=$(aws_kinesis get-shard-iterator --stream-name demo-stream \
	    --shard-id $shard --shard-iterator-type TRIM_HORIZON \
	    --query ShardIterator --output text)
	aws_kinesis get-records --shard-iterator "$it" \
	    --query 'length(Records)' --output text |
	    sed "s/^/$shard: Kinesis records: /"
done

say "kinesisctl stats"
"$TOP/kinesisctl" stats

say "stopping kinesisd (SIGTERM: graceful shutdown)"
kill -TERM "$KD_PID"
wait "$KD_PID" && echo "kinesisd exited 0"
echo "demo done"
