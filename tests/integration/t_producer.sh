#!/bin/sh
# The producer against kinesalite, read back with boto3 and split with
# aws-kinesis-agg: put_ok positions hold exactly their records, shards are
# the ones MD5 predicts, aggregation packs records, fire-and-forget and
# flush, AggregationEnabled false, explicit hash keys, and every kind of
# invalid put refused while the connection goes on.
. "$(dirname "$0")/../lib/common.sh"

start_kinesalite
create_stream agg4 4
create_stream plain2 2
cat >"$T/kd.yaml" <<YAML
socket: $T/kd.sock
http-listen: ""
producers:
  agg: { stream-name: agg4 }
  plain:
    stream-name: plain2
    kpl: { AggregationEnabled: false }
YAML
start_kinesisd "$T/kd.yaml"

$PY - "$KD_SOCK" "$T" <<'PYEOF' || fail "producer checks"
import json, random, sys
sys.path.insert(0, sys.argv[0] and "tests/lib")
from kdclient import Conn, b64

sock, tmp = sys.argv[1], sys.argv[2]
c = Conn(sock, timeout=30)
random.seed(7)
sent = {}
for i in range(5000):
    key = "key-%d-%d" % (i, random.randrange(1 << 30))
    data = ("data %d " % i).encode() + bytes(random.randrange(256) for _ in range(random.randrange(0, 40)))
    sent[i] = (key, data)
    c.send({"op": "put", "producer": "agg", "key": key, "data": b64(data), "id": i})
ff = []
for i in range(300):
    key, data = "ff-%d" % i, ("fire and forget %d" % i).encode()
    ff.append((key, data))
    c.send({"op": "put", "producer": "agg", "key": key, "data": b64(data)})
c.send({"op": "flush", "producer": "agg", "id": "flush-1"})
oks, flushed_after = {}, None
while True:
    m = c.recv()
    assert m is not None, "timed out with %d put_ok" % len(oks)
    if m["op"] == "put_ok":
        oks[m["id"]] = (m["shard"], m["seq"], m["subseq"])
    elif m["op"] == "flushed":
        flushed_after = len(oks)
        break
    else:
        raise AssertionError("unexpected %r" % m)
assert flushed_after == 5000, "flushed after %d put_ok" % flushed_after

# plain producer: 200 records, every Kinesis record unaggregated
for i in range(200):
    c.send({"op": "put", "producer": "plain", "key": "p%d" % i, "text": "plain %d" % i, "id": "p%d" % i})
plain_ok = 0
while plain_ok < 200:
    m = c.recv()
    assert m and m["op"] == "put_ok", m
    assert m["subseq"] == 0
    plain_ok += 1
json.dump({"sent": {i: [k, b64(d)] for i, (k, d) in sent.items()},
           "oks": oks, "ff": [[k, b64(d)] for k, d in ff]},
          open(tmp + "/put.json", "w"))
PYEOF

$PY tests/lib/read_stream.py "$KINESIS_URL" agg4 >"$T/agg4.json" || fail "read agg4"
node tests/lib/deagg_all.js <"$T/agg4.json" >"$T/agg4.users.json" || fail "deaggregate"
$PY tests/lib/read_stream.py "$KINESIS_URL" plain2 >"$T/plain2.json" || fail "read plain2"

$PY - "$T" <<'PYEOF' || fail "read-back checks"
import base64, hashlib, json, sys
tmp = sys.argv[1]
put = json.load(open(tmp + "/put.json"))
stream = json.load(open(tmp + "/agg4.json"))
users = json.load(open(tmp + "/agg4.users.json"))
at = {(u["shard"], u["seq"], u["subseq"]): (u["key"], u["data"]) for u in users}
shards = [(int(s["start"]), int(s["end"]), s["id"]) for s in stream["shards"]]
def predicted(key):
    h = int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
    return [sid for lo, hi, sid in shards if lo <= h <= hi][0]
for i, (key, data) in put["sent"].items():
    shard, seq, subseq = put["oks"][i]
    assert at.get((shard, seq, subseq)) == (key, data), \
        "put %s: %s/%s/%s holds %r" % (i, shard, seq, subseq, at.get((shard, seq, subseq)))
    assert shard == predicted(key), "put %s went to %s, MD5 says %s" % (i, shard, predicted(key))
kinesis_records = len(stream["records"])
assert kinesis_records * 10 < len(users), \
    "%d Kinesis records for %d user records: not aggregated" % (kinesis_records, len(users))
assert any(u["aggregated"] for u in users)
have = {(u["key"], u["data"]) for u in users}
for key, data in put["ff"]:
    assert (key, data) in have, "fire-and-forget %s missing" % key
assert len(users) == 5300, "%d user records in the stream" % len(users)
plain = json.load(open(tmp + "/plain2.json"))
assert len(plain["records"]) == 200
for r in plain["records"]:
    assert not base64.b64decode(r["data"]).startswith(b"\xf3\x89\x9a\xc2"), "aggregated"
    assert base64.b64decode(r["data"]).decode() == "plain " + r["key"][1:]
print("  %d user records in %d Kinesis records" % (len(users), kinesis_records))
PYEOF

# Invalid puts: each refused with the field named; the connection goes on.
$PY - "$KD_SOCK" <<'PYEOF' || fail "invalid puts"
import sys
sys.path.insert(0, "tests/lib")
from kdclient import Conn, b64
c = Conn(sys.argv[1])
cases = [
    ({"producer": "nope", "key": "k", "text": "x"}, "unknown_producer", "nope"),
    ({"producer": "agg", "text": "x"}, "bad_request", "key"),
    ({"producer": "agg", "key": "", "text": "x"}, "bad_request", "key"),
    ({"producer": "agg", "key": "k" * 257, "text": "x"}, "bad_request", "key"),
    ({"producer": "agg", "key": 5, "text": "x"}, "bad_request", "key"),
    ({"producer": "agg", "key": "k", "data": "not base64!"}, "bad_request", "data"),
    ({"producer": "agg", "key": "k"}, "bad_request", "data"),
    ({"producer": "agg", "key": "k", "data": b64(b"x" * (1 << 20))}, "too_large", "1048576"),
    ({"producer": "agg", "key": "k", "text": "x", "ehk": str(1 << 128)}, "bad_request", "ehk"),
    ({"producer": "agg", "key": "k", "text": "x", "ehk": "12a"}, "bad_request", "ehk"),
    ({"producer": "agg", "key": "k", "text": "x", "ehk": -1}, "bad_request", "ehk"),
    ({"key": "k", "text": "x"}, "bad_request", "producer"),
]
for n, (req, code, word) in enumerate(cases):
    req.update(op="put", id="bad%d" % n)
    m = c.request(req)
    assert m["op"] == "error" and m["error"] == code, (req, m)
    assert word in m["message"], (word, m)
# a key of 256 characters, some of them multi-byte, is fine
m = c.request({"op": "put", "producer": "agg", "key": "é" * 256, "text": "ok", "id": "k256"})
assert m["op"] == "put_ok", m
# an explicit hash key decides the shard: the top of the range is the last shard
m = c.request({"op": "put", "producer": "agg", "key": "any", "text": "x",
               "ehk": str((1 << 128) - 1), "id": "ehk"})
assert m["op"] == "put_ok" and m["shard"] == "shardId-000000000003", m
# ids come back exactly as sent, whatever their JSON
for rid in ['q"uote\\ \u00e9\n', 1.5, -7, 2 ** 60, 0, ""]:
    m = c.request({"op": "put", "producer": "agg", "key": "idk", "text": "x", "id": rid})
    assert m["op"] == "put_ok" and m["id"] == rid, (rid, m)
assert c.request({"op": "ping", "id": "still"})["op"] == "pong"
PYEOF

"$TOP/kinesisctl" stats >"$T/stats.json" || fail "stats"
grep -q '"user_records_put":' "$T/stats.json" || fail "stats lack producer counters"
kill -TERM "$KD_PID"; wait "$KD_PID" || fail "exit code after SIGTERM"
exit 0
