# tests/lib/kdaws.sh — sourced after common.sh by the AWS API tests: builds
# tests/tools/kdaws and offers small helpers to run it and check its JSON.

# KDAWS_SAN=1: the AddressSanitizer/UBSan build (any report fails the call).
if [ "${KDAWS_SAN:-}" = 1 ]; then
	KDAWS="$TOP/build/san/kdaws"
	make -C "$TOP" -s SAN=1 build/san/kdaws >"$T/make-kdaws.out" 2>&1 ||
	    fail "cannot build kdaws: $(tail -n 5 "$T/make-kdaws.out")"
	export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:exitcode=99}"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:exitcode=99}"
else
	KDAWS="$TOP/build/plain/kdaws"
	make -C "$TOP" -s build/plain/kdaws >"$T/make-kdaws.out" 2>&1 ||
	    fail "cannot build kdaws: $(tail -n 5 "$T/make-kdaws.out")"
fi

# kdaws NAME [OPTIONS] SERVICE OP [JSON]: the reply goes to $T/NAME.json,
# stderr to $T/NAME.err; returns kdaws's status.
kdaws() {
	_n=$1
	shift
	"$KDAWS" "$@" >"$T/$_n.json" 2>"$T/$_n.err"
}

# kdaws_ok NAME ...: as kdaws, failing the test unless the call succeeds.
kdaws_ok() {
	kdaws "$@" || fail "kdaws $*: $(head -c 800 "$T/$1.json") $(cat "$T/$1.err")"
}

# kdaws_err NAME ...: as kdaws, failing the test unless the call fails
# cleanly (status 1 and an Error object).
kdaws_err() {
	kdaws "$@"
	_rc=$?
	[ $_rc -eq 1 ] || fail "kdaws $*: status $_rc, want 1: $(head -c 800 "$T/$1.json") $(cat "$T/$1.err")"
	expect "$1" '"Error" in d' "kdaws $2 $3: no Error object"
}

# jv NAME EXPR: the Python expression EXPR over d, the JSON of $T/NAME.json
# (lists and dicts printed as JSON).
jv() {
	$PY - "$T/$1.json" "$2" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
r = eval(sys.argv[2])
print(json.dumps(r, sort_keys=True) if isinstance(r, (dict, list)) else r)
PYEOF
}

# expect NAME EXPR MESSAGE: fails the test unless EXPR is true.
expect() {
	[ "$(jv "$1" "bool($2)" 2>"$T/jv.err")" = True ] ||
	    fail "$3 [$2] in: $(head -c 800 "$T/$1.json") $(cat "$T/jv.err")"
}

# same NAME1 EXPR1 NAME2 EXPR2 MESSAGE: the two values must be equal.
same() {
	_a=$(jv "$1" "$2") || fail "$5: cannot evaluate $2"
	_b=$(jv "$3" "$4") || fail "$5: cannot evaluate $4"
	[ "$_a" = "$_b" ] || fail "$5: '$_a' != '$_b'"
}
