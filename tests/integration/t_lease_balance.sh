#!/bin/sh
# Leases across workers (SPEC section 4), with tests/tools/kdlease as the
# worker: three workers on a 6-shard stream settle at 2/2/2 within a few
# taker rounds; kill -9 one and the other two hold 3/3 within about twice
# failoverTimeMillis, resuming from its checkpoints; SIGTERM one instead
# and its released leases are taken well under failoverTimeMillis.
. "$(dirname "$0")/../lib/common.sh"

KDL=${KDLEASE:-$TOP/build/plain/kdlease}
if [ -z "${KDLEASE:-}" ]; then
	make -s -C "$TOP" build/plain/kdlease >/dev/null 2>&1 ||
	    fail "cannot build kdlease"
fi
FAILOVER=3000
TAKER=1000
TABLE=bal-leases

start_kinesalite
start_dynalite
create_stream bal 6

now_ms() { date +%s%3N; }

# start_worker NAME FD: a kdlease worker reading commands from a fifo
# held open on file descriptor FD.
start_worker() {
	[ -p "$T/$1.in" ] || mkfifo "$T/$1.in"
	spawn "$1" sh -c "exec '$KDL' -s bal -t $TABLE -w $1 \
	    -f $FAILOVER -T $TAKER -c 500 < '$T/$1.in'"
	eval "PID_$1=\$LAST_PID"
	eval "exec $2>'$T/$1.in'"
}

# "w1=2 w2=2 w3=2": owners and counts from a consistent scan ("-" for
# unowned), sorted.
owners() {
	"$KDL" -l -t $TABLE 2>/dev/null | awk '$1 == "lease" { n[$3]++ }
	    END { for (o in n) printf "%s=%d\n", o, n[o] }' | sort |
	    tr '\n' ' ' | sed 's/ $//'
}

# wait_owners WANT MS: until owners prints WANT, at most MS ms; sets
# TOOK (ms) and LAST_OWNERS.
wait_owners() {
	t0=$(now_ms)
	while :; do
		LAST_OWNERS=$(owners)
		TOOK=$(($(now_ms) - t0))
		[ "$LAST_OWNERS" = "$1" ] && return 0
		[ $TOOK -lt "$2" ] || return 1
		sleep 0.1
	done
}

# --- three workers: 2/2/2 within a few taker rounds
start_worker w1 3
start_worker w2 4
start_worker w3 5
wait_owners "w1=2 w2=2 w3=2" 20000 ||
    fail "no 2/2/2 split after 20 s: $LAST_OWNERS"
note "2/2/2 after ${TOOK} ms"
# ... and it stays so (no churn once balanced).
sleep 3
[ "$(owners)" = "w1=2 w2=2 w3=2" ] || fail "balance did not hold: $(owners)"

# --- w3 checkpoints its shards, then dies: w1 and w2 reach 3/3 within
# about 2 x failoverTimeMillis and resume from those checkpoints.
W3_SHARDS=$("$KDL" -l -t $TABLE | awk '$1 == "lease" && $3 == "w3" { print $2 }')
[ "$(echo "$W3_SHARDS" | wc -l)" -eq 2 ] || fail "w3 holds: $W3_SHARDS"
i=0
for s in $W3_SHARDS; do
	i=$((i + 1))
	echo "checkpoint $s 4959000000000000000000000000000000000000000000000000000$i 7" >&5
	echo "flush $s" >&5
done
for s in $W3_SHARDS; do
	n=0
	until grep -q "^flushed $s ok" "$T/w3.log"; do
		n=$((n + 1))
		[ $n -lt 50 ] || fail "w3 could not checkpoint $s"
		sleep 0.1
	done
done
kill -9 "$PID_w3"
wait_owners "w1=3 w2=3" 15000 || fail "no 3/3 after kill -9: $LAST_OWNERS"
note "3/3 ${TOOK} ms after kill -9 (failoverTimeMillis $FAILOVER)"
# Expected: up to one taker round to see the last renewal, failover to
# expire, a round to take, and a round more when both survivors picked
# the same lease (their choice is random, as the KCL's).
[ $TOOK -le $((2 * FAILOVER + 3 * TAKER / 2)) ] ||
    fail "takeover took $TOOK ms, more than about 2 x failoverTimeMillis"
i=0
for s in $W3_SHARDS; do
	i=$((i + 1))
	grep -qh "^acquired $s 4959000000000000000000000000000000000000000000000000000$i 7 " \
	    "$T/w1.log" "$T/w2.log" ||
	    fail "$s not resumed from w3's checkpoint"
done

# --- w3 back: 2/2/2 again (stealing); then SIGTERM: released leases are
# taken at the next scans, well under failoverTimeMillis.
exec 5>&-
start_worker w3 5
wait_owners "w1=2 w2=2 w3=2" 20000 ||
    fail "no 2/2/2 after w3 came back: $LAST_OWNERS"
note "2/2/2 again after ${TOOK} ms"
kill -TERM "$PID_w3"
wait_owners "w1=3 w2=3" 15000 || fail "no 3/3 after SIGTERM: $LAST_OWNERS"
note "3/3 ${TOOK} ms after SIGTERM (failoverTimeMillis $FAILOVER)"
# Expected: the next taker round (TAKER), or two when both survivors
# reached for the same lease.
[ $TOOK -lt $((2 * TAKER + 500)) ] ||
    fail "released leases took $TOOK ms, not well under failoverTimeMillis"
wait "$PID_w3" 2>/dev/null
grep -q "^stopped ok" "$T/w3.log" || fail "w3 did not stop cleanly"

# --- stop the rest through their command pipes: every lease released.
echo stop >&3
echo stop >&4
wait "$PID_w1" 2>/dev/null
wait "$PID_w2" 2>/dev/null
grep -q "^stopped ok" "$T/w1.log" || fail "w1 did not stop cleanly"
[ "$(owners)" = "-=6" ] || fail "leases left owned: $(owners)"
exit 0
