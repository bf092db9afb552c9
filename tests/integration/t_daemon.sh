#!/bin/sh
# The daemon skeleton end to end: options and exit codes, the socket
# protocol's framing and errors, kinesisctl, health and metrics over HTTP,
# sd_notify, socket activation, SIGTERM.
. "$(dirname "$0")/../lib/common.sh"

KD="$TOP/kinesisd"
CTL="$TOP/kinesisctl"
HTTP_PORT=$(free_port)
cat >"$T/kd.yaml" <<YAML
application-name: t-daemon
socket: $T/run/kd.sock
http-listen: 127.0.0.1:$HTTP_PORT
log: { level: debug, format: json }
YAML

# --- options and exit codes
"$KD" --version | grep -q '^kinesisd ' || fail "--version"
"$KD" --bogus 2>/dev/null; [ $? -eq 64 ] || fail "bad option must exit 64"
"$KD" --print-defaults >"$T/defaults.yaml" || fail "--print-defaults"
grep -q 'RecordMaxBufferedTime: 100' "$T/defaults.yaml" ||
    fail "defaults lack RecordMaxBufferedTime: 100"
"$KD" --check-config -c "$T/kd.yaml" >"$T/merged.yaml" || fail "--check-config"
grep -q "t-daemon" "$T/merged.yaml" || fail "merged config lacks our name"
# The merged output is itself a valid configuration.
"$KD" --check-config -c "$T/merged.yaml" >/dev/null ||
    fail "--check-config output does not load again"

cat >"$T/bad.yaml" <<'YAML'
application-name: bad
producers:
  p:
    stream-name: s
    kpl:
      RateLimt: 10
YAML
"$KD" --check-config -c "$T/bad.yaml" 2>"$T/bad.err"
[ $? -eq 78 ] || fail "a bad config must exit 78"
for want in ":6:" RateLimt RateLimit; do
	grep -q -- "$want" "$T/bad.err" || fail "error lacks '$want': $(cat "$T/bad.err")"
done
KINESISD_CONFIG="$T/bad.yaml" "$KD" --check-config 2>/dev/null
[ $? -eq 78 ] || fail "KINESISD_CONFIG is not read"

# --- serving, with a stand-in systemd notify socket and a watchdog
$PY "$TOP/tests/lib/notify_listen.py" "$T/notify.sock" 6 >"$T/notify.out" &
NPID=$!
PIDS="$PIDS $NPID"
sleep 0.3
NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=400000 \
    start_kinesisd "$T/kd.yaml"
[ "$(stat -c %a "$T/run/kd.sock")" = 660 ] || fail "socket mode is not 0660"
[ "$(stat -c %a "$T/run")" = 750 ] || fail "socket folder is not 0750"

"$CTL" ping >/dev/null || fail "kinesisctl ping"
"$CTL" -s "$T/nowhere.sock" ping 2>/dev/null && fail "ping to nowhere succeeded"
"$CTL" stats >"$T/stats.out" || fail "kinesisctl stats"
grep -q '"connections"' "$T/stats.out" || fail "stats lacks connections"

# 200 lines of garbage, then a ping: 200 bad_json and the pong.
{
	i=0
	while [ $i -lt 200 ]; do echo "garbage $i {"; i=$((i + 1)); done
	echo '{"op":"ping","id":7}'
	echo '{"op":"hello","id":"h"}'
	echo '{"op":"frobnicate","id":8}'
} | kd_talk 1 >"$T/talk.out"
[ "$(grep -c '"error":"bad_json"' "$T/talk.out")" -eq 200 ] ||
    fail "expected 200 bad_json errors"
grep -q '{"op":"pong","id":7}' "$T/talk.out" || fail "no pong with id 7"
grep -q '"op":"hello","id":"h","version":1' "$T/talk.out" || fail "hello"
grep -q '"id":8,"error":"unknown_op"' "$T/talk.out" || fail "unknown_op"

# A 3 MiB line: too_large, and only that connection closes.
$PY - "$KD_SOCK" <<'PYEOF' || fail "too_large"
import socket, sys
a = socket.socket(socket.AF_UNIX); a.connect(sys.argv[1])
b = socket.socket(socket.AF_UNIX); b.connect(sys.argv[1])
try:
    a.sendall(b"x" * (3 << 20) + b"\n")
except (BrokenPipeError, ConnectionResetError):
    pass
data = b""
a.settimeout(5)
while True:
    try:
        chunk = a.recv(65536)
    except ConnectionResetError:
        break
    if not chunk:
        break
    data += chunk
assert b'"error":"too_large"' in data, data
b.sendall(b'{"op":"ping","id":1}\n')
b.settimeout(5)
assert b.recv(100) == b'{"op":"pong","id":1}\n'
PYEOF

# Health and metrics; the text must parse with prometheus_client.
curl -fsS "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null || fail "/healthz"
curl -fsS "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null || fail "/readyz"
curl -fsS "http://127.0.0.1:$HTTP_PORT/metrics" >"$T/metrics.txt" || fail "/metrics"
$PY - "$T/metrics.txt" <<'PYEOF' || fail "/metrics does not parse"
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
assert "kinesisd_ipc_open_connections" in fams, sorted(fams)
PYEOF

# --- SIGTERM: shutdown event, exit 0, socket removed, notify states.
$PY - "$KD_SOCK" >"$T/shutdown.out" <<'PYEOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.settimeout(10)
print(s.recv(4096).decode(), end="")
PYEOF
LISTENER=$!
sleep 0.5
kill -TERM "$KD_PID"
wait "$KD_PID"; rc=$?
[ $rc -eq 0 ] || fail "SIGTERM exit code $rc"
wait "$LISTENER"
grep -q '"op":"shutdown","reason":"SIGTERM"' "$T/shutdown.out" ||
    fail "no shutdown event: $(cat "$T/shutdown.out")"
[ ! -e "$T/run/kd.sock" ] || fail "socket left behind"
wait "$NPID" 2>/dev/null
grep -q '^READY=1' "$T/notify.out" || fail "no READY=1"
grep -q '^WATCHDOG=1' "$T/notify.out" || fail "no WATCHDOG=1"
grep -q '^STOPPING=1' "$T/notify.out" || fail "no STOPPING=1"
grep -q '"level":"info","subsystem":"daemon"' "$T/kinesisd.log" ||
    fail "log is not JSON lines"

# --- a second daemon on a live socket refuses to start
start_kinesisd "$T/kd.yaml" kd1
sed 's/^http-listen:.*/http-listen: ""/' "$T/kd.yaml" >"$T/kd2.yaml"
"$KD" -c "$T/kd2.yaml" 2>"$T/second.err"; rc=$?
[ $rc -eq 1 ] || fail "second daemon: exit $rc"
grep -q "another kinesisd" "$T/second.err" || fail "second daemon message"
kill -TERM "$KD_PID"; wait "$KD_PID"

# --- socket activation: systemd-socket-activate passes the listening fd
if command -v systemd-socket-activate >/dev/null; then
	spawn activate systemd-socket-activate -l "$T/act.sock" \
	    "$KD" -c "$T/kd.yaml"
	i=0; while [ ! -S "$T/act.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
	"$CTL" -s "$T/act.sock" ping >/dev/null || fail "socket activation"
	grep -q "socket from systemd" "$T/activate.log" ||
	    fail "daemon did not use the passed socket"
fi
exit 0
