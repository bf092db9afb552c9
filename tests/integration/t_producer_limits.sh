#!/bin/sh
# RateLimit and collection limits.  RateLimit 10 (% of a shard's 1000
# records/s) lets one shard take about 100 Kinesis records a second after
# the first full bucket: 300 unaggregated records cannot all be accepted
# in less than about two seconds.  CollectionMaxCount 7 caps every
# PutRecords request at 7 records.
. "$(dirname "$0")/../lib/common.sh"

start_kinesalite
create_stream one 1
cat >"$T/kd.yaml" <<YAML
socket: $T/kd.sock
http-listen: ""
producers:
  limited:
    stream-name: one
    kpl: { RateLimit: 10, AggregationEnabled: false, RecordMaxBufferedTime: 10 }
  small:
    stream-name: one
    kpl: { CollectionMaxCount: 7, AggregationEnabled: false }
YAML
start_kinesisd "$T/kd.yaml"

$PY - "$KD_SOCK" <<'PYEOF' || fail "rate limit"
import sys, time
sys.path.insert(0, "tests/lib")
from kdclient import Conn
c = Conn(sys.argv[1], timeout=30)
start = time.time()
for i in range(300):
    c.send({"op": "put", "producer": "limited", "key": "k%d" % i, "text": "r", "id": i})
for i in range(300):
    m = c.recv()
    assert m is not None and m["op"] == "put_ok", m
took = time.time() - start
assert took >= 1.6, "300 records in %.2f s with RateLimit 10" % took
print("  300 records at RateLimit 10 took %.2f s" % took)

for i in range(70):
    c.send({"op": "put", "producer": "small", "key": "s%d" % i, "text": "r", "id": i})
for i in range(70):
    assert c.recv()["op"] == "put_ok"
st = c.request({"op": "stats", "id": "s"})["producers"]["small"]
assert st["put_records_requests"] >= 10, st
PYEOF
exit 0
