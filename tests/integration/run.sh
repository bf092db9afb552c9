#!/bin/sh
# Runs every tests/integration/t_*.sh (or those matching ONLY=pattern),
# JOBS at a time (default 3), and ends with the 'N passed, N failed' line
# CI reads.
cd "$(dirname "$0")/../.." || exit 1
set --
for t in tests/integration/t_*.sh; do
	case "$t" in *"${ONLY:-}"*) set -- "$@" "$t" ;; esac
done
exec /usr/bin/python3 tests/lib/runner.py "$@"
