#!/bin/sh
# Start-up checks: a configured stream that does not exist is logged with
# its name and region, /readyz answers 503 and puts fail with
# ResourceNotFoundException; once the stream exists the daemon notices by
# itself and becomes ready.
. "$(dirname "$0")/../lib/common.sh"

start_kinesalite
HTTP_PORT=$(free_port)
cat >"$T/kd.yaml" <<YAML
socket: $T/kd.sock
http-listen: 127.0.0.1:$HTTP_PORT
region: eu-west-1
producers:
  late: { stream-name: not-yet }
YAML
start_kinesisd "$T/kd.yaml"
sleep 1
grep -q "stream not-yet not found in region eu-west-1" "$T/kinesisd.log" ||
    fail "no log line naming the missing stream"
code=$(curl -s -o "$T/ready.txt" -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/readyz")
[ "$code" = 503 ] || fail "/readyz answered $code with a missing stream"
grep -q "stream does not exist" "$T/ready.txt" || fail "/readyz body: $(cat "$T/ready.txt")"
"$TOP/kinesisctl" put late x >"$T/put.out" 2>&1 && fail "put to a missing stream succeeded"
grep -q ResourceNotFoundException "$T/put.out" || fail "put error: $(cat "$T/put.out")"

AWS_REGION=eu-west-1 AWS_DEFAULT_REGION=eu-west-1 create_stream not-yet 1
i=0
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/readyz")" = 200 ]; do
	i=$((i + 1)); [ $i -lt 40 ] || fail "not ready 10 s after the stream appeared"
	sleep 0.25
done
"$TOP/kinesisctl" put late now-it-works >/dev/null || fail "put after the stream appeared"
curl -fsS "http://127.0.0.1:$HTTP_PORT/metrics" | grep -q \
    'kinesisd_aws_requests_total{service="kinesis",operation="PutRecords",status="200"}' ||
    fail "no AWS request metrics"
exit 0
