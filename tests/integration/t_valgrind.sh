#!/bin/sh
# Daemon runs under valgrind: the producer scenarios again with kinesisd
# inside memcheck; any invalid access or definite leak makes valgrind
# exit 99, which the scenario sees as a bad exit after SIGTERM.
. "$(dirname "$0")/../lib/common.sh"
command -v valgrind >/dev/null || fail "valgrind missing: run 'make deps'"
export KD_WRAPPER="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file=$T/valgrind.%p.log"
for t in t_producer.sh t_consumer_basic.sh; do
	[ -x "$TOP/tests/integration/$t" ] || continue
	"$TOP/tests/integration/$t" || {
		cat "$T"/valgrind.*.log >&2 2>/dev/null
		fail "$t under valgrind"
	}
done
exit 0
