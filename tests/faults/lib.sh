# tests/faults/lib.sh — sourced after tests/lib/common.sh by the fault and
# kill -9 tests: the fault proxy (a fake, see faultproxy.py) and read-back
# helpers.

FAULTS="$TOP/tests/faults"

# start_faultproxy NAME UPSTREAM_URL: runs faultproxy.py in front of
# UPSTREAM_URL; FP_URL is its address (put it in kinesisd's endpoints).
start_faultproxy() {
	rm -f "$T/$1.port"
	spawn "$1" $PY "$FAULTS/faultproxy.py" --upstream "$2" \
	    --port-file "$T/$1.port" --seed "${FAULT_SEED:-1}" --max-seconds 900
	_i=0
	while [ ! -s "$T/$1.port" ]; do
		_i=$((_i + 1))
		[ $_i -lt 200 ] || fail "faultproxy $1 did not start"
		sleep 0.05
	done
	FP_URL="http://127.0.0.1:$(cat "$T/$1.port")"
}

# fault_set URL RULES_JSON / fault_clear URL / fault_stats URL
fault_set() {
	curl -fsS -X PUT --data-binary "{\"rules\": $2}" "$1/_fault/rules" \
	    >/dev/null || fail "cannot set faults at $1"
}
fault_clear() {
	curl -fsS -X POST "$1/_fault/clear" >/dev/null || fail "cannot clear faults at $1"
}
fault_stats() {
	curl -fsS "$1/_fault/stats" || fail "no fault stats from $1"
}

# read_users STREAM FILE: the stream read back by boto3, straight from the
# emulator (not through any proxy), split by aws-kinesis-agg.
read_users() {
	$PY "$TOP/tests/lib/read_stream.py" "$KINESIS_URL" "$1" >"$T/$1.raw.json" ||
	    fail "read back $1"
	node "$TOP/tests/lib/deagg_all.js" <"$T/$1.raw.json" >"$2" ||
	    fail "deaggregate $1"
}

# rand_ms LO HI: a pseudo-random number of milliseconds in [LO, HI).
rand_ms() {
	$PY -c 'import random,sys; print(random.randrange(int(sys.argv[1]), int(sys.argv[2])))' "$1" "$2"
}

# kill9 PID: SIGKILL and reap.
kill9() {
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}
