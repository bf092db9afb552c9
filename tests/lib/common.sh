# tests/lib/common.sh — sourced by every integration test.
#
# Starts the real peers (kinesalite, dynalite, kinesis-local) and kinesisd
# on free loopback ports inside a private temporary folder, and stops all of
# it when the test exits, whatever the outcome.  A test calls fail() with a
# message or exits 0.

set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
NODE_BIN="$TOP/node_modules/.bin"
PY=/usr/bin/python3   # Debian's python3 with boto3/botocore, not pyenv's
AWS=/usr/bin/aws
T=$(mktemp -d "${TMPDIR:-/tmp}/kdtest.XXXXXX")
PIDS=""

# Dummy credentials: the emulators accept any signature.
export AWS_ACCESS_KEY_ID=AKIDKINESISDTEST
export AWS_SECRET_ACCESS_KEY=kinesisd-test-secret
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL 2>/dev/null || true
export AWS_PAGER=""

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	if [ "${KEEP_TMP:-}" = 1 ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo "FAIL: $(basename "$0"): $*" >&2
	for f in "$T"/*.log; do
		[ -f "$f" ] || continue
		echo "--- last lines of $f" >&2
		tail -n 30 "$f" >&2
	done
	exit 1
}

note() { echo "  $(basename "$0"): $*"; }

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT [SECONDS]: until something accepts on 127.0.0.1:PORT.
wait_port() {
	$PY - "$1" "${2:-20}" <<'PYEOF' || return 1
import socket, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
end = time.time() + limit
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close(); sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PYEOF
}

# Runs a command in the background with its output in $T/NAME.log and
# records its pid for cleanup; the pid is left in $LAST_PID.
spawn() {
	name=$1; shift
	"$@" >"$T/$name.log" 2>&1 &
	LAST_PID=$!
	PIDS="$PIDS $LAST_PID"
}

# start_kinesalite [persist]: with "persist", data lives in $T/kinesalite.db
# so that stop_kinesalite + start_kinesalite keeps the streams (same port).
start_kinesalite() {
	[ -x "$NODE_BIN/kinesalite" ] || fail "kinesalite missing: run 'make deps'"
	KINESIS_PORT=${KINESIS_PORT:-$(free_port)}
	set -- ${1:+--path "$T/kinesalite.db"}
	spawn kinesalite "$NODE_BIN/kinesalite" --port "$KINESIS_PORT" \
	    --createStreamMs 0 --deleteStreamMs 0 --updateStreamMs 0 \
	    --shardLimit 1000 "$@"
	KINESALITE_PID=$LAST_PID
	wait_port "$KINESIS_PORT" || fail "kinesalite did not start"
	export KINESIS_URL="http://127.0.0.1:$KINESIS_PORT"
	export AWS_ENDPOINT_URL_KINESIS="$KINESIS_URL"
}

stop_kinesalite() {
	kill "$KINESALITE_PID" 2>/dev/null
	wait "$KINESALITE_PID" 2>/dev/null
}

start_dynalite() {
	[ -x "$NODE_BIN/dynalite" ] || fail "dynalite missing: run 'make deps'"
	DYNAMO_PORT=$(free_port)
	spawn dynalite "$NODE_BIN/dynalite" --port "$DYNAMO_PORT" \
	    --host 127.0.0.1 --createTableMs 0 --deleteTableMs 0 \
	    --updateTableMs 0
	DYNALITE_PID=$LAST_PID
	wait_port "$DYNAMO_PORT" || fail "dynalite did not start"
	export DYNAMO_URL="http://127.0.0.1:$DYNAMO_PORT"
	export AWS_ENDPOINT_URL_DYNAMODB="$DYNAMO_URL"
}

# kinesis-local: pagination, ShardFilter and MillisBehindLatest, which
# kinesalite lacks.  Slow to start (tens of seconds on 2 cores).
start_kinesis_local() {
	kl="$TOP/node_modules/kinesis-local"
	[ -f "$kl/main.js" ] || fail "kinesis-local missing: run 'make deps'"
	KINESIS_PORT=$(free_port)
	KINESIS_MOCK_PLAIN_PORT=$KINESIS_PORT \
	KINESIS_MOCK_TLS_PORT=$(free_port) \
	KINESIS_MOCK_CERT_PATH="$kl/server.json" \
	CREATE_STREAM_DURATION=0ms DELETE_STREAM_DURATION=0ms \
	SPLIT_SHARD_DURATION=0ms MERGE_SHARDS_DURATION=0ms \
	UPDATE_SHARD_COUNT_DURATION=0ms LOG_LEVEL=WARN \
	    spawn kinesis-local node "$kl/main.js"
	KINESIS_LOCAL_PID=$LAST_PID
	wait_port "$KINESIS_PORT" 90 || fail "kinesis-local did not start"
	export KINESIS_URL="http://127.0.0.1:$KINESIS_PORT"
	export AWS_ENDPOINT_URL_KINESIS="$KINESIS_URL"
}

# The AWS CLI v2 from Debian, pointed at the emulators.
aws_kinesis() { $AWS --endpoint-url "$KINESIS_URL" kinesis "$@"; }
aws_dynamodb() { $AWS --endpoint-url "$DYNAMO_URL" dynamodb "$@"; }

# create_stream NAME SHARDS: creates it and waits until ACTIVE.
create_stream() {
	aws_kinesis create-stream --stream-name "$1" --shard-count "$2" \
	    >/dev/null || fail "create-stream $1"
	aws_kinesis wait stream-exists --stream-name "$1" ||
	    fail "stream $1 not active"
}

# start_kinesisd CONFIG [NAME]: runs ./kinesisd -c CONFIG, waits for its
# socket; KD_SOCK is the socket path, KD_PID the pid.
start_kinesisd() {
	name=${2:-kinesisd}
	spawn "$name" ${KD_WRAPPER:-} "$TOP/kinesisd" -c "$1"
	KD_PID=$LAST_PID
	sock=$(sed -n 's/^socket: *//p' "$1" | tr -d '"')
	KD_SOCK=${sock:-$T/kinesisd.sock}
	i=0
	while [ ! -S "$KD_SOCK" ]; do
		kill -0 "$KD_PID" 2>/dev/null || fail "kinesisd exited at start"
		i=$((i + 1))
		[ $i -lt 200 ] || fail "kinesisd socket $KD_SOCK did not appear"
		sleep 0.05
	done
	export KINESISD_SOCKET="$KD_SOCK"
}

# Sends lines from stdin to the daemon socket, prints every reply line
# until the socket goes quiet for QUIET seconds (default 1).
kd_talk() {
	$PY "$TOP/tests/lib/kdtalk.py" "$KD_SOCK" "${1:-1}"
}
