#!/bin/sh
# Leases across three real daemons (issue 5): three kinesisd on one
# 6-shard stream, each with one subscriber, settle at 2/2/2; kill -9 one
# and the other two hold 3/3 within about twice failoverTimeMillis; start
# it again, then SIGTERM it: its released shards are taken well under
# failoverTimeMillis.  Ownership is read from the lease table itself.
. "$(dirname "$0")/../lib/common.sh"

FAILOVER=4000
start_kinesalite
start_dynalite
create_stream ld6 6

for w in 1 2 3; do
	cat >"$T/kd$w.yaml" <<YAML
application-name: t-lease-daemons
socket: $T/kd$w.sock
http-listen: ""
consumers:
  c:
    stream-name: ld6
    kcl: { failoverTimeMillis: $FAILOVER, workerId: daemon-$w,
           idleTimeBetweenReadsInMillis: 500 }
YAML
done

# daemon W: starts kinesisd W and a subscriber that acks what comes.
daemon() {
	start_kinesisd "$T/kd$1.yaml" "kinesisd$1"
	eval "KD$1=\$KD_PID"
	rm -f "$T/stop$1"
	$PY "$TOP/tests/lib/kdconsume.py" "$KD_SOCK" c --out "$T/sub$1.jsonl" \
	    --until "$T/stop$1" --timeout 300 >/dev/null 2>&1 &
	PIDS="$PIDS $!"
}

# owners: "daemon-1 daemon-1 daemon-2 ..." from the lease table.
owners() {
	aws_dynamodb scan --table-name t-lease-daemons-ld6 \
	    --query 'Items[].leaseOwner.S' --output text 2>/dev/null
}

# until_split "A B C" SECONDS: until the held counts, sorted, are A B C.
until_split() {
	want=$1 start=$(date +%s%N)
	while :; do
		got=$(owners | tr '\t' '\n' | grep -v '^None$' | sort | uniq -c |
		    awk '{ print $1 }' | sort -n | tr '\n' ' ' | sed 's/ $//')
		[ "$got" = "$want" ] && break
		[ $(( ($(date +%s%N) - start) / 1000000 )) -lt $(($2 * 1000)) ] ||
		    fail "leases never split $want (last: $got; $(owners))"
		sleep 0.2
	done
	ELAPSED_MS=$(( ($(date +%s%N) - start) / 1000000 ))
}

daemon 1
daemon 2
daemon 3
until_split "2 2 2" 60
note "2/2/2 after ${ELAPSED_MS} ms"

kill -9 "$KD3"
until_split "3 3" $((2 * FAILOVER / 1000 + 10))
note "3/3 ${ELAPSED_MS} ms after kill -9 (failoverTimeMillis $FAILOVER)"
[ "$ELAPSED_MS" -le $((3 * FAILOVER)) ] ||
    fail "failover took $ELAPSED_MS ms, more than 3 x failoverTimeMillis"
touch "$T/stop3"

daemon 3
until_split "2 2 2" 60
note "2/2/2 again after ${ELAPSED_MS} ms"
kill -TERM "$KD3"
until_split "3 3" 20
note "3/3 ${ELAPSED_MS} ms after SIGTERM"
wait "$KD3" || fail "SIGTERM exit code"
[ "$ELAPSED_MS" -lt "$FAILOVER" ] ||
    fail "released shards took $ELAPSED_MS ms to be taken (failoverTimeMillis $FAILOVER)"
touch "$T/stop1" "$T/stop2" "$T/stop3"
exit 0
