#!/bin/sh
# Runs every tests/integration/t_*.sh (or ONLY=pattern), one after another,
# and ends with the 'N passed, N failed' line CI reads.
cd "$(dirname "$0")/../.." || exit 1
pass=0 failed=0 names=""
for t in tests/integration/t_*.sh; do
	case "$t" in *"${ONLY:-}"*) ;; *) continue ;; esac
	start=$(date +%s)
	if "$t"; then
		pass=$((pass + 1)); r=ok
	else
		failed=$((failed + 1)); r=FAIL; names="$names $t"
	fi
	echo "$r $t ($(( $(date +%s) - start ))s)"
done
[ -z "$names" ] || echo "failed:$names"
echo "integration: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
