#!/bin/sh
# Hostile input end to end (issue 10): on one connection, 5,000 hostile
# lines — random bytes, invalid UTF-8, NUL bytes, deep JSON nesting (up to
# 100,000 '['), huge numbers, every field of every op with every wrong
# type, very long keys and names — interleaved with 500 legitimate puts
# with ids, against kinesalite and dynalite.  All 500 get put_ok, every
# reply is one JSON object per line, the daemon still answers ping on that
# connection and on new ones, other clients are not disturbed, and SIGTERM
# exits 0.  Then the limits, each on its own connection: a line over
# max-line-bytes, a partial line that never ends, and one more connection
# than max-connections.  Last, access control: a daemon whose allowed-uids
# leaves us (root) out refuses us and logs it; allowed-gids lets us in.
#
# Under valgrind: KD_WRAPPER="valgrind --error-exitcode=99 ..." runs the
# daemon inside it (see t_valgrind.sh); an error is then a bad exit code.
. "$(dirname "$0")/../lib/common.sh"

start_kinesalite
start_dynalite
create_stream hostile 2
create_stream hostile-in 1
cat >"$T/kd.yaml" <<YAML
application-name: t-hostile
socket: $T/kd.sock
http-listen: ""
max-connections: 8
partial-line-timeout-seconds: 2
log: { level: info, format: text }
producers:
  p: { stream-name: hostile, kpl: { RecordMaxBufferedTime: 20 } }
consumers:
  c:
    stream-name: hostile-in
    kcl: { idleTimeBetweenReadsInMillis: 200, workerId: t-hostile-1 }
YAML
start_kinesisd "$T/kd.yaml"

$PY - "$KD_SOCK" <<'PYEOF' || fail "hostile lines"
import json, os, random, select, socket, sys, time

path = sys.argv[1]
rnd = random.Random(20241125)
# Ids come back exactly as sent, 5001-digit numbers included.
sys.set_int_max_str_digits(0)

# ---- the hostile lines ------------------------------------------------------

WRONG = [None, True, False, 0, -1, 1.5, 1e308, -1e308, 2 ** 64, 2 ** 200,
         "", "x", "\u00e9\u4e2d\U0001f600", [], [1, [2]], {}, {"a": {"b": 1}},
         "A" * 5000]
FIELDS = {
    "hello": ["client", "version"],
    "ping": [],
    "put": ["producer", "key", "data", "text", "ehk", "id"],
    "flush": ["producer"],
    "subscribe": ["consumer", "max_in_flight"],
    "unsubscribe": ["consumer"],
    "ack": ["consumer", "shard", "seq", "subseq", "ok"],
    "stats": [],
    "leases": ["consumer"],
}
VALID = {"producer": "p", "key": "k", "text": "t", "consumer": "c",
         "shard": "shardId-000000000000", "seq": "1", "subseq": 0,
         "ok": True, "max_in_flight": 10, "client": "x", "version": 1}


def wrong_type_lines():
    """Every field of every op with every wrong value, the rest valid."""
    out = []
    for op, fields in FIELDS.items():
        for f in fields + ["op", "id"]:
            for v in WRONG:
                m = {"op": op}
                for g in fields:
                    if g in VALID:
                        m[g] = VALID[g]
                m["id"] = "h%d" % len(out)
                m[f] = v
                out.append(json.dumps(m).encode())
    return out


def random_bytes():
    n = rnd.choice([1, 2, 10, 100, 1000, 5000])
    return bytes(rnd.choice([b for b in range(256) if b != 10])
                 for _ in range(n))


def bad_utf8():
    seqs = [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
            b"\xe2\x82", b"\x80", b"\xfe\xfe\xff\xff", b"\xf0\x9f\x98"]
    s = rnd.choice(seqs)
    return rnd.choice([
        b'{"op":"put","producer":"p","key":"' + s + b'","text":"x","id":"u"}',
        b'{"op":"ping","id":"' + s + b'"}',
        s + b'{"op":"ping"}',
        b'{"op":"' + s + b'"}'])


def nul_bytes():
    return rnd.choice([
        b'{"op":"ping"}\x00',
        b'\x00' * 50,
        b'{"op":"put","producer":"p","key":"k","text":"a\x00b","id":"n"}',
        b'{"op":"put","producer":"p","key":"k\\u0000","text":"x","id":"n"}',
        b'{"op":"put","producer":"p","key":"k","text":"cut\\u0000here","id":"n"}',
        b'{"op":"pi\x00ng"}'])


def deep():
    n = rnd.choice([1001, 3000, 10000])
    return rnd.choice([
        b"[" * n,
        b"[" * n + b"]" * n,
        b'{"a":' * n + b"1" + b"}" * n,
        b'{"op":"put","producer":"p","key":"k","text":"x","x":' +
        b"[" * n + b"]" * n + b"}",
        b'{"op":"ping","id":' + b"{" * n])


def huge_numbers():
    n = rnd.choice(["1e999", "-1e999", "1e308", "123456789012345678901234567890",
                    "0.0000000000000000000000000001", "-0", "9" * 400,
                    "1" + "0" * 5000])
    return rnd.choice([
        ('{"op":"ping","id":%s}' % n).encode(),
        ('{"op":"ack","consumer":"c","shard":"s","seq":"1","subseq":%s}' % n).encode(),
        ('{"op":"subscribe","consumer":"c","max_in_flight":%s,"id":"s"}' % n).encode(),
        ('{"op":"put","producer":"p","key":"k","text":"x","ehk":%s,"id":"e"}' % n).encode(),
        ('{"op":"put","producer":"p","key":"k","text":"x","ehk":"%s","id":"e"}' % n).encode()])


def long_things():
    return rnd.choice([
        json.dumps({"op": "put", "producer": "p", "key": "k" * 5000,
                    "text": "x", "id": "long"}).encode(),
        json.dumps({"op": "put", "producer": "p" * 5000, "key": "k",
                    "text": "x", "id": "long"}).encode(),
        json.dumps({"op": "o" * 20000}).encode(),
        json.dumps({"k" * 20000: 1, "op": "ping"}).encode(),
        json.dumps({"op": "ping", "id": "i" * 20000}).encode(),
        json.dumps({"op": "leases", "consumer": "c" * 20000, "id": "l"}).encode()])


def odd_json():
    return rnd.choice([
        b"", b"   ", b"\r", b"{}", b"[]", b"null", b"1", b'"op"',
        b'{"op":"ping"} {"op":"ping"}', b'{"op":"ping",}', b"{'op':'ping'}",
        b'{"op":"ping","op":"put"}', b'{"op":"ping","id":"\\ud800"}',
        b'{"op":"put","producer":"p","key":"k","text":"x","data":"eA==","id":1}',
        b'{"op":"put","producer":"p","key":"k","data":"not base64!","id":2}',
        b'{"op":"put","producer":"p","key":"k","data":"eA=","id":3}',
        b'{"op":"put","producer":"p","key":"k","text":"x","ehk":"-1","id":4}',
        b'{"op":"put","producer":"p","key":"k","text":"x","ehk":"' +
        str(2 ** 128).encode() + b'","id":5}',
        b'{"op":"put","producer":"nope","key":"k","text":"x","id":6}',
        b'{"op":"flush","producer":"nope","id":7}',
        b'{"op":"subscribe","consumer":"nope","id":8}',
        b'{"op":"ack","consumer":"c","shard":"nope","seq":"1","subseq":0}',
        b'{"op":"leases","consumer":"nope","id":9}',
        b'{"op":"unknown","id":10}', b'{"op":"PING"}', b'{"op":"put"}'])


gens = [random_bytes, bad_utf8, nul_bytes, deep, huge_numbers, long_things,
        odd_json]
hostile = wrong_type_lines()
# A few heavy ones: 100,000 levels of nesting, records of 90 KB (fine) and
# 1.1 MB (over Kinesis's 1 MiB: too_large, the connection goes on).
for i in range(3):
    hostile.append(b"[" * 100000)
    hostile.append(b'{"op":"put","producer":"p","key":"k","text":"x","x":' +
                   b"[" * 100000 + b"]" * 100000 + b"}")
    hostile.append(json.dumps({"op": "put", "producer": "p", "key": "k",
                               "data": "QUFB" * 30000, "id": "big"}).encode())
    hostile.append(json.dumps({"op": "put", "producer": "p", "key": "k",
                               "data": "QUFB" * 370000, "id": "over"}).encode())
while len(hostile) < 5000:
    hostile.append(rnd.choice(gens)())
hostile = hostile[:5000]
rnd.shuffle(hostile)

# Interleave: a legitimate put after every 10 hostile lines.
lines = []
for i, h in enumerate(hostile):
    lines.append(h)
    if i % 10 == 9:
        n = i // 10
        lines.append(json.dumps({"op": "put", "producer": "p",
                                 "key": "legit-%d" % n,
                                 "text": "legitimate %d" % n,
                                 "id": "L%d" % n}).encode())
lines.append(b'{"op":"flush","producer":"p","id":"final-flush"}')
data = b"\n".join(lines) + b"\n"
assert sum(1 for l in lines if b'"id": "L' in l) == 500
print("  sending %d lines, %d bytes" % (len(lines), len(data)))

# ---- send all of it while reading every reply ------------------------------

s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
s.setblocking(False)
other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
other.connect(path)
off, buf, replies = 0, b"", []
put_ok, flushed, end = {}, False, time.time() + 300
while not (flushed and len(put_ok) == 500):
    assert time.time() < end, "timed out: %d put_ok, flushed %s" % (
        len(put_ok), flushed)
    r, w, _ = select.select([s], [s] if off < len(data) else [], [], 1.0)
    if w:
        try:
            off += s.send(data[off:off + 65536])
        except BlockingIOError:
            pass
    if r:
        chunk = s.recv(1 << 20)
        assert chunk, "the daemon closed the connection after %d bytes" % off
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            m = json.loads(line)  # every reply is one JSON object
            assert isinstance(m, dict) and isinstance(m.get("op"), str), line
            replies.append(m)
            if m["op"] == "put_ok" and str(m.get("id", "")).startswith("L"):
                assert m["id"] not in put_ok, "two put_ok for %s" % m["id"]
                put_ok[m["id"]] = m
            elif m["op"] == "put_failed" and str(m.get("id", "")).startswith("L"):
                raise AssertionError("legitimate put failed: %r" % m)
            elif m["op"] == "flushed" and m.get("id") == "final-flush":
                flushed = True
errors = {}
for m in replies:
    if m["op"] == "error":
        errors[m["error"]] = errors.get(m["error"], 0) + 1
print("  %d replies; errors by code: %s" % (len(replies), errors))
for code in ("bad_json", "bad_request", "unknown_op", "unknown_producer",
             "unknown_consumer", "too_large"):
    assert errors.get(code, 0) > 0, "no %s error" % code
# U+0000 is refused, never silently cut.
assert not any(m.get("op") == "put_ok" and m.get("id") == "n" for m in replies)

# The same connection, and the quiet one, still work.
s.setblocking(True)
s.settimeout(10)
s.sendall(b'{"op":"ping","id":"after"}\n')
while b'"id":"after"' not in buf:
    chunk = s.recv(65536)
    assert chunk, "closed before the last pong"
    buf += chunk
other.settimeout(10)
other.sendall(b'{"op":"ping","id":"other"}\n')
assert other.recv(100) == b'{"op":"pong","id":"other"}\n'

# ---- limits, each on its own connection ----------------------------------------

def conn():
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(path)
    c.settimeout(10)
    return c


def read_all(c):
    got = b""
    while True:
        try:
            chunk = c.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        got += chunk
    return got


# Deep nesting gets bad_json (cJSON's nesting limit), not a stack overflow.
c = conn()
c.sendall(b"[" * 100000 + b"\n" + b'{"op":"ping","id":"x","a":' +
          b"[" * 100000 + b"]" * 100000 + b"}\n" + b'{"op":"ping","id":1}\n')
got = b""
while got.count(b"\n") < 3:
    got += c.recv(65536)
assert got.count(b'"error":"bad_json"') == 2 and b'"pong","id":1' in got, got
c.close()

# A line over max-line-bytes: too_large, then the daemon hangs up.
c = conn()
try:
    c.sendall(b"x" * (3 << 20) + b"\n")
except (BrokenPipeError, ConnectionResetError):
    pass
assert b'"error":"too_large"' in read_all(c)
c.close()

# A partial line that never ends: closed after partial-line-timeout-seconds.
c = conn()
c.sendall(b'{"op":"ping","id":1}\n{"op":"pi')
t0 = time.time()
got = read_all(c)
assert b'"pong"' in got and b"no end of line" in got, got
assert 1.5 < time.time() - t0 < 9, time.time() - t0
c.close()

# max-connections 8: with s, other and 6 more open, the 9th is refused.
extra = [conn() for _ in range(6)]
time.sleep(0.3)
c = conn()
assert read_all(c) == b"", "a connection over max-connections was served"
for e in extra:
    e.close()
time.sleep(0.3)
c = conn()
c.sendall(b'{"op":"ping","id":"again"}\n')
assert c.recv(100) == b'{"op":"pong","id":"again"}\n'
print("  500 put_ok among 5,000 hostile lines; limits hold")
PYEOF

"$TOP/kinesisctl" ping >/dev/null || fail "kinesisctl ping after the hostile lines"
kill -0 "$KD_PID" 2>/dev/null || fail "kinesisd died"
grep -q "no end of line within 2 s" "$T/kinesisd.log" || fail "partial line not logged"
grep -q "connections open already" "$T/kinesisd.log" || fail "refusal not logged"
kill -TERM "$KD_PID"
wait "$KD_PID"; rc=$?
[ $rc -eq 0 ] || fail "exit code $rc after SIGTERM"

# Access control: allowed-uids without our uid refuses us, root included,
# and says who was refused; our group in allowed-gids lets us in.
cat >"$T/acl.yaml" <<YAML
socket: $T/acl.sock
http-listen: ""
allowed-uids: [65534]
YAML
start_kinesisd "$T/acl.yaml" acl
[ "$(stat -c %a "$T/acl.sock")" = 660 ] || fail "socket mode is not 0660"
"$TOP/kinesisctl" -s "$T/acl.sock" ping 2>/dev/null &&
    fail "a uid outside allowed-uids was served"
grep -q "refused connection from uid $(id -u) gid $(id -g) pid [0-9]" \
    "$T/acl.log" || fail "refusal not logged with uid and pid"
kill -TERM "$KD_PID"; wait "$KD_PID" || fail "acl: exit code"
sed "s/^allowed-uids:.*/allowed-uids: [65534]\nallowed-gids: [$(id -g)]/" \
    "$T/acl.yaml" >"$T/acl2.yaml"
start_kinesisd "$T/acl2.yaml" acl2
"$TOP/kinesisctl" -s "$T/acl.sock" ping >/dev/null ||
    fail "a member of allowed-gids was refused"
kill -TERM "$KD_PID"; wait "$KD_PID" || fail "acl2: exit code"
exit 0
