#!/bin/sh
# make bench: kinesisd beside its peers, in one run, on this machine.
#
#   producer     N records of 100 B through the socket (kdload) into
#                bench/fakekinesis.py, beside the Node @aws-sdk/client-kinesis
#                producer (PutRecords of 500, 24 in flight) into the same
#                fake, and beside the raw Unix socket moving the same bytes
#                (kdload raw-serve: the physical limit of the socket)
#   latency      put -> put_ok at a fixed rate: kinesisd, Node PutRecord per
#                record, raw socket
#   aggregation  kpl/ (C) against aws-kinesis-agg (Node), both directions
#   consumer     N records on 100 shards, kinesisd delivering to a client
#                that acks each one, beside Node GetRecords + aws-kinesis-agg
#   memory       kinesisd's RSS idle, and its peak after each load
#
# fakekinesis.py is a fake (a loopback server answering PutRecords and
# GetRecords with synthetic data) so that kinesisd's own cost is measured,
# not kinesalite's.  CPU per record comes from /proc/<pid>/stat
# (utime+stime) of the process under test, RSS from /proc/<pid>/status.
# All traffic is on loopback.  Prints one table; also writes it to
# $BENCH_OUT (default build/bench.md).  BENCH_ONLY=producer (with the
# latency runs and their peers), aggregation or consumer runs that part
# alone, for a quick look at one change.
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/lib/common.sh"

N=${N:-1000000}
NODE_N=${NODE_N:-500000}
SIZE=100
LAT_RATE=${LAT_RATE:-500}
LAT_RATE_HIGH=${LAT_RATE_HIGH:-50000}
KDLOAD="$TOP/build/plain/bench/kdload"
AGGBENCH="$TOP/build/plain/bench/aggbench"
OUT=${BENCH_OUT:-$TOP/build/bench.md}
R="$T/results.jsonl"
export NODE_NO_WARNINGS=1
: >"$R"

[ -x "$KDLOAD" ] && [ -x "$AGGBENCH" ] || fail "build first: make bench"

ticks() { # utime+stime of PID, in clock ticks
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}
vm() { # VmRSS / VmHWM of PID in MiB
	awk -v f="$2:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}
HZ=$(getconf CLK_TCK)
cpu_us() { # TICKS_BEFORE TICKS_AFTER RECORDS
	awk -v a="$1" -v b="$2" -v n="$3" -v hz="$HZ" 'BEGIN { printf "%.3f", (b - a) * 1e6 / hz / n }'
}
row() { # JSON object fields (without braces) appended to the results
	echo "{$1}" >>"$R"
}
jget() { # FILE KEY
	$PY -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])[sys.argv[2]])' "$1" "$2"
}

start_sink() { # NAME ARGS...: a fakekinesis.py; SINK_URL is its address
	_n=$1; shift
	spawn "$_n" $PY "$TOP/bench/fakekinesis.py" --port-file "$T/$_n.port" "$@"
	_i=0
	while [ ! -s "$T/$_n.port" ]; do
		_i=$((_i + 1)); [ $_i -lt 600 ] || fail "$_n did not start"; sleep 0.05
	done
	SINK_URL="http://127.0.0.1:$(cat "$T/$_n.port")"
}

want() { # PART: whether BENCH_ONLY lets PART run
	[ -z "${BENCH_ONLY:-}" ] || [ "$BENCH_ONLY" = "$1" ]
}
case "${BENCH_ONLY:-}" in
"" | producer | aggregation | consumer) ;;
*) fail "BENCH_ONLY=$BENCH_ONLY: say producer, aggregation or consumer" ;;
esac

cut -d' ' -f1-3 /proc/loadavg >"$T/loadavg"
echo "bench: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), N=$N"

if want producer; then
# ---- producer ---------------------------------------------------------------
start_sink sink --shards 4
cat >"$T/kd.yaml" <<YAML
socket: $T/kd.sock
http-listen: ""
log: { level: warn }
endpoints: { kinesis: "$SINK_URL" }
producers:
  bench:
    stream-name: bench
    kpl: { RateLimit: 100000000 }
YAML
start_kinesisd "$T/kd.yaml"
sleep 2
IDLE=$(vm "$KD_PID" VmRSS)
row "\"bench\":\"memory\",\"subject\":\"kinesisd idle (one producer)\",\"rss\":$IDLE"
# Most of it is shared libraries' pages (libcrypto, libcurl and what it
# links); the daemon's own memory is the anonymous part.
row "\"bench\":\"memory\",\"subject\":\"kinesisd idle, its own memory (RssAnon)\",\"rss\":$(vm "$KD_PID" RssAnon)"

echo "bench: producer, kinesisd"
t0=$(ticks "$KD_PID")
"$KDLOAD" put "$KD_SOCK" bench "$N" $SIZE >"$T/put.json" || fail "kdload put: $(cat "$T/put.json")"
t1=$(ticks "$KD_PID")
row "\"bench\":\"producer\",\"subject\":\"kinesisd (KPL aggregation) -> fake Kinesis\",\"rps\":$(jget "$T/put.json" rps),\"cpu_us\":$(cpu_us "$t0" "$t1" "$N"),\"rss\":$(vm "$KD_PID" VmHWM)"
row "\"bench\":\"memory\",\"subject\":\"kinesisd peak after the producer run\",\"rss\":$(vm "$KD_PID" VmHWM)"

echo "bench: put latency, kinesisd"
"$KDLOAD" put "$KD_SOCK" bench $((LAT_RATE * 10)) $SIZE "$LAT_RATE" >"$T/lat.json" || fail "latency run"
row "\"bench\":\"latency\",\"subject\":\"kinesisd put -> put_ok @ $LAT_RATE/s (RecordMaxBufferedTime 100)\",\"p50\":$(jget "$T/lat.json" p50_ms),\"p99\":$(jget "$T/lat.json" p99_ms),\"p999\":$(jget "$T/lat.json" p999_ms)"
"$KDLOAD" put "$KD_SOCK" bench $((LAT_RATE_HIGH * 5)) $SIZE "$LAT_RATE_HIGH" >"$T/lath.json" || fail "latency run"
row "\"bench\":\"latency\",\"subject\":\"kinesisd put -> put_ok @ $LAT_RATE_HIGH/s (RecordMaxBufferedTime 100)\",\"p50\":$(jget "$T/lath.json" p50_ms),\"p99\":$(jget "$T/lath.json" p99_ms),\"p999\":$(jget "$T/lath.json" p999_ms)"
kill -TERM "$KD_PID"; wait "$KD_PID"

echo "bench: producer, raw Unix socket"
"$KDLOAD" raw-serve "$T/raw.sock" >"$T/raw-serve.json" &
RAW=$!
i=0; while [ ! -S "$T/raw.sock" ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.05; done
"$KDLOAD" put "$T/raw.sock" bench "$N" $SIZE >"$T/raw.json" || fail "raw put"
wait "$RAW"
row "\"bench\":\"producer\",\"subject\":\"raw Unix socket, same bytes (physical limit)\",\"rps\":$(jget "$T/raw.json" rps),\"cpu_us\":$(jget "$T/raw-serve.json" cpu_us)"
for rate in "$LAT_RATE" "$LAT_RATE_HIGH"; do
	"$KDLOAD" raw-serve "$T/raw.sock" >/dev/null &
	RAW=$!
	i=0; while [ ! -S "$T/raw.sock" ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.05; done
	"$KDLOAD" put "$T/raw.sock" bench $((rate * 5)) $SIZE "$rate" >"$T/rawlat.json" || fail "raw latency"
	wait "$RAW"
	row "\"bench\":\"latency\",\"subject\":\"raw Unix socket round trip @ $rate/s\",\"p50\":$(jget "$T/rawlat.json" p50_ms),\"p99\":$(jget "$T/rawlat.json" p99_ms),\"p999\":$(jget "$T/rawlat.json" p999_ms)"
done

echo "bench: producer, Node @aws-sdk/client-kinesis"
node "$TOP/bench/node_peer.js" produce "$SINK_URL" "$NODE_N" $SIZE 24 >"$T/node.json" ||
    fail "node producer: $(cat "$T/node.json")"
row "\"bench\":\"producer\",\"subject\":\"Node @aws-sdk/client-kinesis PutRecords -> fake Kinesis\",\"rps\":$(jget "$T/node.json" rps),\"cpu_us\":$(jget "$T/node.json" cpu_us),\"rss\":$(jget "$T/node.json" peak_rss_mib)"
node "$TOP/bench/node_peer.js" latency "$SINK_URL" "$LAT_RATE" 10 $SIZE >"$T/nodelat.json" ||
    fail "node latency"
row "\"bench\":\"latency\",\"subject\":\"Node @aws-sdk/client-kinesis PutRecord @ $LAT_RATE/s\",\"p50\":$(jget "$T/nodelat.json" p50_ms),\"p99\":$(jget "$T/nodelat.json" p99_ms),\"p999\":$(jget "$T/nodelat.json" p999_ms)"

fi

if want aggregation; then
# ---- aggregation ------------------------------------------------------------
echo "bench: aggregation"
"$AGGBENCH" "$N" $SIZE >"$T/agg.json" || fail "aggbench"
node "$TOP/bench/agg_node.js" "$NODE_N" $SIZE >"$T/aggn.json" || fail "agg_node"
row "\"bench\":\"aggregation\",\"subject\":\"kpl/ (C) aggregate, 51,200-byte aggregates\",\"rps\":$(jget "$T/agg.json" agg_rps),\"cpu_us\":$(jget "$T/agg.json" agg_cpu_us)"
row "\"bench\":\"aggregation\",\"subject\":\"aws-kinesis-agg (Node) aggregate, its 1 MiB aggregates\",\"rps\":$(jget "$T/aggn.json" agg_rps),\"cpu_us\":$(jget "$T/aggn.json" agg_cpu_us)"
row "\"bench\":\"aggregation\",\"subject\":\"kpl/ (C) deaggregate\",\"rps\":$(jget "$T/agg.json" deagg_rps),\"cpu_us\":$(jget "$T/agg.json" deagg_cpu_us)"
row "\"bench\":\"aggregation\",\"subject\":\"aws-kinesis-agg (Node) deaggregateSync\",\"rps\":$(jget "$T/aggn.json" deagg_rps),\"cpu_us\":$(jget "$T/aggn.json" deagg_cpu_us)"

fi

if want consumer; then
# ---- consumer ---------------------------------------------------------------
echo "bench: consumer, 100 shards"
PER_AGG=400
AGGS=$(( (N + 100 * PER_AGG - 1) / (100 * PER_AGG) ))
CN=$((AGGS * 100 * PER_AGG))
start_sink sink2 --shards 100 --aggs "$AGGS" --per-agg $PER_AGG --record-bytes $SIZE
SINK2=$SINK_URL
start_dynalite
cat >"$T/kdc.yaml" <<YAML
application-name: bench
socket: $T/kdc.sock
http-listen: ""
log: { level: warn }
endpoints: { kinesis: "$SINK2", dynamodb: "$DYNAMO_URL" }
consumers:
  bench:
    stream-name: bench
    kcl: { idleTimeBetweenReadsInMillis: 200, workerId: bench-worker }
YAML
start_kinesisd "$T/kdc.yaml" kinesisd-consumer
t0=$(ticks "$KD_PID")
"$KDLOAD" consume "$KD_SOCK" bench "$CN" 100000 >"$T/cons.json" ||
    fail "kdload consume: $(cat "$T/cons.json")"
t1=$(ticks "$KD_PID")
row "\"bench\":\"consumer\",\"subject\":\"kinesisd, 100 shards -> client acking each record\",\"rps\":$(jget "$T/cons.json" rps),\"cpu_us\":$(cpu_us "$t0" "$t1" "$CN"),\"rss\":$(vm "$KD_PID" VmHWM)"
row "\"bench\":\"memory\",\"subject\":\"kinesisd peak holding 100 shards under load\",\"rss\":$(vm "$KD_PID" VmHWM)"
kill -TERM "$KD_PID"; wait "$KD_PID"
node "$TOP/bench/node_peer.js" consume "$SINK2" "$CN" >"$T/nodec.json" ||
    fail "node consumer: $(cat "$T/nodec.json")"
row "\"bench\":\"consumer\",\"subject\":\"Node GetRecords + aws-kinesis-agg, 100 shards (no leases, no acks)\",\"rps\":$(jget "$T/nodec.json" rps),\"cpu_us\":$(jget "$T/nodec.json" cpu_us),\"rss\":$(jget "$T/nodec.json" peak_rss_mib)"

fi

mkdir -p "$(dirname "$OUT")"
$PY "$TOP/bench/table.py" "$R" "$N" "$NODE_N" "$(cat "$T/loadavg")" >"$OUT" || fail "table"
cat "$OUT"
