#!/bin/sh
# Kinesis goes away for 5 s in the middle of a producing run: every put is
# answered, no record that got put_ok is missing from the stream, and the
# records that could not be sent within RecordTtl come back expired.
# Also: kinesisctl put, and max-outstanding-requests back-pressure.
. "$(dirname "$0")/../lib/common.sh"

start_kinesalite persist
create_stream out2 2
cat >"$T/kd.yaml" <<YAML
socket: $T/kd.sock
http-listen: ""
producers:
  p:
    stream-name: out2
    kpl: { RecordTtl: 3000, RequestTimeout: 800, ConnectTimeout: 500,
           RecordMaxBufferedTime: 50 }
  slow:
    stream-name: out2
    max-outstanding-requests: 50
    kpl: { RecordMaxBufferedTime: 500 }
YAML
start_kinesisd "$T/kd.yaml"

printf 'one\ntwo\nthree\n' | "$TOP/kinesisctl" put p >"$T/ctl.out" ||
    fail "kinesisctl put: $(cat "$T/ctl.out")"
grep -q '^3 put, 0 failed' "$T/ctl.out" || fail "kinesisctl put summary"
"$TOP/kinesisctl" put p --key fixed a b >"$T/ctl2.out" || fail "kinesisctl put args"
# Options after PRODUCER are options, not records.
grep -q '^2 put, 0 failed' "$T/ctl2.out" || fail "kinesisctl put --key: $(cat "$T/ctl2.out")"
"$TOP/kinesisctl" put nosuch x 2>/dev/null && fail "put to unknown producer"

$PY - "$KD_SOCK" "$T" <<'PYEOF' &
import json, sys, time
sys.path.insert(0, "tests/lib")
from kdclient import Conn
c = Conn(sys.argv[1], timeout=30)
sent, results = {}, {}
start = time.time()
i = 0
while time.time() - start < 9:
    c.send({"op": "put", "producer": "p", "key": "k%d" % i, "text": "outage %d" % i, "id": i})
    sent[i] = "outage %d" % i
    i += 1
    time.sleep(0.005)
    while True:
        m = c.recv(timeout=0)
        if m is None:
            break
        results[m["id"]] = m
while len(results) < len(sent):
    m = c.recv(timeout=30)
    assert m is not None, "%d of %d unanswered" % (len(sent) - len(results), len(sent))
    results[m["id"]] = m
json.dump({"sent": sent, "results": results}, open(sys.argv[2] + "/outage.json", "w"))
PYEOF
CLIENT=$!
sleep 2
stop_kinesalite
sleep 5
start_kinesalite persist
wait "$CLIENT" || fail "outage client"

$PY tests/lib/read_stream.py "$KINESIS_URL" out2 >"$T/out2.json" || fail "read back"
node tests/lib/deagg_all.js <"$T/out2.json" >"$T/out2.users.json" || fail "deaggregate"
$PY - "$T" <<'PYEOF' || fail "outage checks"
import json, sys
t = sys.argv[1]
d = json.load(open(t + "/outage.json"))
users = json.load(open(t + "/out2.users.json"))
import base64
have = {(u["shard"], u["seq"], u["subseq"]): base64.b64decode(u["data"]).decode() for u in users}
ok = expired = 0
for i, text in d["sent"].items():
    m = d["results"][i]
    if m["op"] == "put_ok":
        ok += 1
        assert have.get((m["shard"], m["seq"], m["subseq"])) == text, "put_ok %s missing" % i
    else:
        assert m["op"] == "put_failed" and m["error"] == "expired", m
        expired += 1
assert expired > 0, "no record expired during a 5 s outage with RecordTtl 3000"
assert ok > expired, (ok, expired)
print("  %d put_ok, %d expired" % (ok, expired))
PYEOF

# Back-pressure: with 50 outstanding allowed, the daemon stops reading a
# connection that keeps putting; every put is still answered.
$PY - "$KD_SOCK" <<'PYEOF' || fail "back-pressure"
import sys, time
sys.path.insert(0, "tests/lib")
from kdclient import Conn
c = Conn(sys.argv[1], timeout=30)
c.s.setblocking(False)
line = b'{"op":"put","producer":"slow","key":"k%d","text":"%s","id":%d}\n'
sent = 0
for i in range(40000):
    try:
        c.s.send(line % (i, b"x" * 200, i))
        sent += 1
    except BlockingIOError:
        break
assert sent < 40000, "the daemon read 40000 puts (10 MB) without pausing"
# While we are blocked, the daemon holds no more than its limit.
other = Conn(sys.argv[1])
st = other.request({"op": "stats", "id": 1})
out = st["producers"]["slow"]["outstanding"]
assert 0 < out <= 50, "outstanding %d with max-outstanding-requests 50" % out
c.s.setblocking(True)
got = 0
while got < sent:
    m = c.recv(timeout=60)
    assert m is not None and m["op"] == "put_ok", (got, sent, m)
    got += 1
print("  blocked after %d puts with %d outstanding; all answered" % (sent, out))
PYEOF
kill -TERM "$KD_PID"; wait "$KD_PID" || fail "exit code"
exit 0
