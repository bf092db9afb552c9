#!/bin/sh
# examples/local.sh start|stop|status — a local kinesisd to run the examples
# against: kinesalite (Kinesis) and dynalite (DynamoDB) on loopback, the
# stream demo-stream (2 shards), and kinesisd with the producer
# demo-producer and the consumer demo-consumer, as `make demo` sets them up.
# Everything lives in $KINESISD_EXAMPLES_DIR (default /tmp/kinesisd-examples);
# the socket is $KINESISD_EXAMPLES_DIR/kinesisd.sock.  Needs `make deps` and
# `make` (or `make demo`) first.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
DIR=${KINESISD_EXAMPLES_DIR:-/tmp/kinesisd-examples}
PY=/usr/bin/python3

# Dummy credentials: the emulators accept any signature.
export AWS_ACCESS_KEY_ID=AKIDKINESISDEXAMPLE
export AWS_SECRET_ACCESS_KEY=kinesisd-example-secret
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_PAGER=""
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL 2>/dev/null || true

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
	$PY - "$1" <<'PYEOF'
import socket, sys, time
end = time.time() + 30
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit("nothing listens on port " + sys.argv[1])
PYEOF
}

running() { [ -f "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

# bg NAME CMD...: runs CMD in the background, its pid in $DIR/NAME.pid.
bg() {
	name=$1
	shift
	nohup "$@" >"$DIR/$name.log" 2>&1 &
	echo $! >"$DIR/$name.pid"
}

start() {
	if running kinesisd; then
		echo "already running: KINESISD_SOCKET=$DIR/kinesisd.sock"
		return 0
	fi
	stop >/dev/null 2>&1 || true
	[ -x "$TOP/kinesisd" ] || { echo "build first: make" >&2; exit 1; }
	[ -x "$TOP/node_modules/.bin/kinesalite" ] ||
	    { echo "install the local peers first: make deps" >&2; exit 1; }
	mkdir -p "$DIR"
	kport=$(free_port)
	dport=$(free_port)
	bg kinesalite "$TOP/node_modules/.bin/kinesalite" --port "$kport" \
	    --createStreamMs 0 --deleteStreamMs 0 --updateStreamMs 0
	bg dynalite "$TOP/node_modules/.bin/dynalite" --port "$dport" \
	    --host 127.0.0.1 --createTableMs 0 --deleteTableMs 0 \
	    --updateTableMs 0
	wait_port "$kport"
	wait_port "$dport"
	aws --endpoint-url "http://127.0.0.1:$kport" kinesis create-stream \
	    --stream-name demo-stream --shard-count 2
	aws --endpoint-url "http://127.0.0.1:$kport" kinesis wait \
	    stream-exists --stream-name demo-stream
	cat >"$DIR/kinesisd.yaml" <<YAML
application-name: examples
socket: $DIR/kinesisd.sock
http-listen: ""
endpoints: { kinesis: "http://127.0.0.1:$kport", dynamodb: "http://127.0.0.1:$dport" }
producers:
  demo-producer:
    stream-name: demo-stream
consumers:
  demo-consumer:
    stream-name: demo-stream
    kcl: { initialPositionInStream: TRIM_HORIZON }
YAML
	bg kinesisd "$TOP/kinesisd" -c "$DIR/kinesisd.yaml"
	i=0
	while [ ! -S "$DIR/kinesisd.sock" ]; do
		running kinesisd || { cat "$DIR/kinesisd.log" >&2; exit 1; }
		i=$((i + 1))
		[ $i -lt 200 ] || { echo "kinesisd did not start" >&2; exit 1; }
		sleep 0.05
	done
	echo "kinesisd runs: KINESISD_SOCKET=$DIR/kinesisd.sock" \
	    "(logs in $DIR; 'examples/local.sh stop' stops it all)"
}

stop() {
	for name in kinesisd dynalite kinesalite; do
		if running "$name"; then
			pid=$(cat "$DIR/$name.pid")
			kill -TERM "$pid" 2>/dev/null || true
			i=0
			while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do
				sleep 0.1
				i=$((i + 1))
			done
		fi
	done
	# Only what start made: $DIR may be any folder the user chose.
	rm -f "$DIR"/kinesalite.* "$DIR"/dynalite.* "$DIR"/kinesisd.*
	rmdir "$DIR" 2>/dev/null || true
	echo "stopped"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status)
	for name in kinesalite dynalite kinesisd; do
		if running "$name"; then echo "$name: running"; else echo "$name: stopped"; fi
	done
	;;
*)
	echo "usage: examples/local.sh start|stop|status" >&2
	exit 64
	;;
esac
