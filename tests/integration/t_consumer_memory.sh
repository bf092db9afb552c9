#!/bin/sh
# The consumer's memory bound (CONSUMER_FETCH_BUDGET, consumer_int.h): 100
# shards of 800 kB each (80 MB in all, in 2,000-byte records) behind one
# slow subscriber.  kinesisd may only read ahead within its budget, so its
# peak RSS (VmHWM) stays far below the data it would hold if every shard
# kept its batch (about 100 MiB before the bound); and every record of
# every shard still arrives, exactly once, in order per shard (no shard
# starves while others hold the budget).  bench/fakekinesis.py serves the
# records: kinesalite would take minutes to store them.
. "$(dirname "$0")/../lib/common.sh"

SHARDS=100
AGGS=4
PER_AGG=100
BYTES=2000
TOTAL=$((SHARDS * AGGS * PER_AGG))
LIMIT_MIB=64

spawn fake $PY "$TOP/bench/fakekinesis.py" --port-file "$T/fake.port" \
    --shards $SHARDS --aggs $AGGS --per-agg $PER_AGG --record-bytes $BYTES
i=0
while [ ! -s "$T/fake.port" ]; do
	i=$((i + 1)); [ $i -lt 600 ] || fail "fakekinesis did not start"
	sleep 0.05
done
start_dynalite

cat >"$T/kd.yaml" <<YAML
application-name: t-cons-memory
socket: $T/kd.sock
http-listen: ""
log: { level: info, format: text }
endpoints: { kinesis: "http://127.0.0.1:$(cat "$T/fake.port")",
             dynamodb: "$DYNAMO_URL" }
consumers:
  mem:
    stream-name: bench
    kcl: { idleTimeBetweenReadsInMillis: 200, workerId: t-mem }
YAML
start_kinesisd "$T/kd.yaml"

# The subscriber reads slowly for its first seconds (everything that can
# be fetched is fetched meanwhile), then acks everything it gets.
$PY - "$KD_SOCK" $TOTAL $SHARDS $PER_AGG >"$T/client.out" 2>&1 <<'PYEOF' ||
import json, socket, sys, time
path, total, shards, per_agg = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
s.sendall(b'{"op":"subscribe","consumer":"mem","max_in_flight":500}\n')
buf, seen, last = b"", set(), {}
start, end = time.time(), time.time() + 240
while len(seen) < total:
    if time.time() > end:
        print("timeout: %d of %d records" % (len(seen), total))
        sys.exit(2)
    if time.time() - start < 3:
        time.sleep(0.2)
    chunk = s.recv(1 << 20)
    if not chunk:
        print("closed after %d records" % len(seen))
        sys.exit(1)
    buf += chunk
    *lines, buf = buf.split(b"\n")
    acks = []
    for line in lines:
        m = json.loads(line)
        if m.get("op") != "record":
            continue
        pos = (int(m["seq"]), m["subseq"])
        if pos <= last.get(m["shard"], (-1, -1)):
            print("out of order or again: %s %s" % (m["shard"], pos))
            sys.exit(1)
        last[m["shard"]] = pos
        seen.add((m["shard"],) + pos)
        acks.append(json.dumps({"op": "ack", "consumer": "mem", "shard": m["shard"],
                                "seq": m["seq"], "subseq": m["subseq"]}))
    if acks:
        s.sendall(("\n".join(acks) + "\n").encode())
if len(last) != shards:
    print("records of %d shards, not %d" % (len(last), shards))
    sys.exit(1)
print("%d records of %d shards in %.1f s" % (len(seen), len(last), time.time() - start))
PYEOF
    fail "client: $(cat "$T/client.out")"
note "$(cat "$T/client.out")"

hwm=$(awk '$1 == "VmHWM:" { print int($2 / 1024) }' "/proc/$KD_PID/status")
note "kinesisd VmHWM $hwm MiB for $((TOTAL * BYTES / 1000000)) MB read (limit $LIMIT_MIB MiB)"
[ "$hwm" -lt $LIMIT_MIB ] ||
    fail "VmHWM $hwm MiB: the consumer held more than its budget allows"
kill -TERM "$KD_PID"
wait "$KD_PID" || fail "kinesisd exited $?"
exit 0
