#!/bin/sh
# /metrics after real work, read by the Prometheus client's own parser:
# every family named kinesisd_*, with HELP and TYPE, counters ending in
# _total, histograms cumulative with +Inf = _count, and the families SPEC
# section 6 lists carrying the values the work implies (300 puts, their
# latencies, PutRecords requests, 0 outstanding; with the consumer: records
# delivered and acked, shards held, MillisBehindLatest per shard,
# checkpoints; AWS requests by service/operation/status; IPC connections;
# kinesisd_up, kinesisd_start_time_seconds, kinesisd_build_info).
# The consumer half runs only when consumer/ is built into the daemon.
. "$(dirname "$0")/../lib/common.sh"

CONSUMER=0
if ls "$TOP"/consumer/*.c >/dev/null 2>&1; then CONSUMER=1; fi

start_kinesalite
create_stream met-prod 2
HTTP_PORT=$(free_port)
cat >"$T/kd.yaml" <<YAML
application-name: t-metrics
socket: $T/kd.sock
http-listen: 127.0.0.1:$HTTP_PORT
log: { level: info, format: json }
producers:
  p1: { stream-name: met-prod }
YAML
if [ $CONSUMER = 1 ]; then
	start_dynalite
	create_stream met-cons 2
	cat >>"$T/kd.yaml" <<YAML
  feed: { stream-name: met-cons }
consumers:
  c1:
    stream-name: met-cons
    checkpointer: { intervalMillis: 200 }
    kcl: { idleTimeBetweenReadsInMillis: 200, failoverTimeMillis: 3000,
           workerId: t-metrics-1 }
YAML
fi
start_kinesisd "$T/kd.yaml"

i=0
until curl -fsS "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 200 ] || fail "/readyz never answered 200"
	sleep 0.05
done
curl -fsS "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null || fail "/healthz"

# 300 puts with ids to p1 (each answered), and 100 to the consumer's stream.
$PY - "$KD_SOCK" $CONSUMER <<'PYEOF' || fail "puts"
import sys
sys.path.insert(0, "tests/lib")
from kdclient import Conn
c = Conn(sys.argv[1], timeout=30)
want = {"p1": 300, "feed": 100 if sys.argv[2] == "1" else 0}
for producer, n in want.items():
    for i in range(n):
        c.send({"op": "put", "producer": producer, "key": "k%d" % i,
                "text": "metrics %s %d" % (producer, i), "id": "%s-%d" % (producer, i)})
left = sum(want.values())
while left:
    m = c.recv()
    assert m is not None, "%d puts unanswered" % left
    assert m["op"] == "put_ok", m
    left -= 1
PYEOF

if [ $CONSUMER = 1 ]; then
	$PY "$TOP/tests/lib/kdconsume.py" "$KD_SOCK" c1 --out "$T/got.jsonl" \
	    --count 100 --stay --done "$T/done" --timeout 60 &
	PIDS="$PIDS $!"
	i=0
	while [ ! -f "$T/done" ]; do
		i=$((i + 1))
		[ $i -lt 600 ] || fail "the consumer did not get 100 records"
		sleep 0.1
	done
	sleep 1.5 # the checkpointer runs every 200 ms
fi

curl -fsS -D "$T/headers.txt" "http://127.0.0.1:$HTTP_PORT/metrics" \
    >"$T/metrics.txt" || fail "/metrics"
grep -qi '^content-type: text/plain; version=0.0.4' "$T/headers.txt" ||
    fail "/metrics content type: $(grep -i content-type "$T/headers.txt")"

$PY - "$T/metrics.txt" $CONSUMER <<'PYEOF' || fail "/metrics checks"
import re, sys, time
from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1]).read()
consumer = sys.argv[2] == "1"
fams = list(text_string_to_metric_families(text))
samples = [s for f in fams for s in f.samples]

def value(name, **labels):
    got = [s.value for s in samples if s.name == name and
           all(s.labels.get(k) == v for k, v in labels.items())]
    assert got, "no sample %s%r" % (name, labels)
    return sum(got)

def expect(name, test, want, **labels):
    got = value(name, **labels)
    ok = {"==": got == want, ">=": got >= want, ">": got > want}[test]
    assert ok, "%s%r is %r, expected %s %r" % (name, labels, got, test, want)

def has(name, **labels):
    return any(s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
               for s in samples)

# --- conventions, on every family present
helps = dict(re.findall(r"^# HELP (\S+) (.*)$", text, re.M))
types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
assert set(helps) == set(types), "HELP without TYPE or back: %r" % (set(helps) ^ set(types))
for name, t in types.items():
    assert name.startswith("kinesisd_"), name
    assert helps[name].strip(), "%s has an empty HELP" % name
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", name), name
    if t == "counter":
        assert name.endswith("_total"), "counter %s lacks _total" % name
    else:
        assert not name.endswith("_total"), "%s %s ends in _total" % (t, name)
    # Base units: seconds and bytes, not milliseconds or kilobytes.
    assert not re.search(r"(^|_)(millis|milliseconds|ms|kb|mb)(_|$)", name), \
        "%s is not in base units" % name
# A gauge x and a counter x_total are one family name to OpenMetrics (and
# to this parser): none may clash.
seen = {}
for f in fams:
    seen[f.name] = seen.get(f.name, 0) + 1
clash = {n for n, k in seen.items() if k > 1}
assert not clash, "families that clash without their _total: %r" % clash
for f in fams:
    if f.type != "histogram":
        continue
    series = {}
    for s in f.samples:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        series.setdefault(key, {"b": [], "count": None})
        if s.name.endswith("_bucket"):
            series[key]["b"].append((float(s.labels["le"]), s.value))
        elif s.name.endswith("_count"):
            series[key]["count"] = s.value
    for key, d in series.items():
        bounds = [b for b, _ in d["b"]]
        counts = [v for _, v in d["b"]]
        assert bounds == sorted(bounds) and bounds[-1] == float("inf"), (f.name, key)
        assert counts == sorted(counts), "%s%r buckets not cumulative" % (f.name, key)
        assert counts[-1] == d["count"], "%s%r +Inf != _count" % (f.name, key)

# --- the daemon itself
expect("kinesisd_up", "==", 1)
expect("kinesisd_build_info", "==", 1)
assert [s.labels["version"] for s in samples if s.name == "kinesisd_build_info"][0]
assert abs(value("kinesisd_start_time_seconds") - time.time()) < 600
assert has("kinesisd_ipc_open_connections")
expect("kinesisd_ipc_connections_total", ">=", 1, result="accepted")

# --- producer (SPEC 6: user records ok/failed, Kinesis records and
# PutRecords requests, outstanding puts, put latency)
expect("kinesisd_user_records_put_total", "==", 300, producer="p1")
expect("kinesisd_user_records_failed_total", "==", 0, producer="p1")
krecs = value("kinesisd_kinesis_records_put_total", producer="p1")
assert 1 <= krecs <= 300, krecs
expect("kinesisd_put_records_requests_total", ">=", 1, producer="p1", result="ok")
expect("kinesisd_outstanding_puts", "==", 0, producer="p1")
expect("kinesisd_put_latency_seconds_count", "==", 300, producer="p1")
expect("kinesisd_put_latency_seconds_sum", ">", 0, producer="p1")
expect("kinesisd_aws_requests_total", ">=", 1, service="kinesis",
       operation="PutRecords", status="200")
assert has("kinesisd_aws_request_duration_seconds_bucket", service="kinesis")

# --- consumer (SPEC 6: delivered/acked/redelivered, leases held,
# MillisBehindLatest per shard, checkpoints ok/failed/throttled)
needed = {"kinesisd_up", "kinesisd_build_info", "kinesisd_start_time_seconds",
          "kinesisd_ipc_open_connections", "kinesisd_user_records_put",
          "kinesisd_user_records_failed", "kinesisd_kinesis_records_put",
          "kinesisd_put_records_requests", "kinesisd_outstanding_puts",
          "kinesisd_put_latency_seconds", "kinesisd_aws_requests"}
if consumer:
    expect("kinesisd_records_delivered_total", ">=", 100, consumer="c1")
    expect("kinesisd_records_acked_total", ">=", 100, consumer="c1")
    assert has("kinesisd_records_redelivered_total", consumer="c1")
    expect("kinesisd_shards_held", "==", 2, consumer="c1")
    expect("kinesisd_leases_held", "==", 2, table="t-metrics-met-cons")
    shards = {s.labels["shard"] for s in samples
              if s.name == "kinesisd_behind_latest_seconds" and s.labels.get("consumer") == "c1"}
    assert len(shards) == 2, shards
    expect("kinesisd_checkpoints_total", ">=", 1, result="ok")
    expect("kinesisd_lease_operations_total", ">=", 1, op="checkpoint", result="ok")
    expect("kinesisd_aws_requests_total", ">=", 1, service="dynamodb")
    expect("kinesisd_aws_requests_total", ">=", 1, service="kinesis",
           operation="GetRecords")
    needed |= {"kinesisd_records_delivered", "kinesisd_records_acked",
               "kinesisd_records_redelivered", "kinesisd_shards_held",
               "kinesisd_behind_latest_seconds", "kinesisd_leases_held",
               "kinesisd_checkpoints", "kinesisd_lease_operations"}
names = {f.name for f in fams}
assert needed <= names, "missing families: %r" % sorted(needed - names)
assert len(names) >= 8, sorted(names)
print("  %d kinesisd_ families, %d samples%s" % (len(names), len(samples),
      "" if consumer else " (no consumer built)"))
PYEOF

kill -TERM "$KD_PID"
wait "$KD_PID" || fail "exit code after SIGTERM"
exit 0
