#!/bin/sh
# Installs what kinesisd needs to build and test, and nothing that is
# already there: Debian packages (apt-get update first, only when something
# is missing) and the npm test peers pinned by package-lock.json into
# ./node_modules.  Idempotent; `make deps`, `make test` and `make demo` run it.
set -eu

DEBS="build-essential pkg-config libevent-dev libcurl4-openssl-dev libssl-dev
libcjson-dev libyaml-dev check awscli python3-boto3 python3-botocore
python3-prometheus-client python3-yaml curl ca-certificates valgrind
systemd"
# `scripts/deps.sh fuzz` (make fuzz): clang and its libFuzzer runtime too.
FUZZ=""
if [ "${1:-}" = fuzz ]; then
	FUZZ=1
	DEBS="$DEBS clang libclang-rt-14-dev"
fi

missing=""
for p in $DEBS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing Debian packages:$missing" >&2
		echo "deps: run 'make deps' as root, or install them yourself" >&2
		exit 1
	fi
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# The npm test peers are not needed to fuzz.
[ -z "$FUZZ" ] || exit 0

# Node.js and npm come with the machine image; Debian's npm would replace
# them with an older one, so it is never installed here.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "deps: node and npm are needed for the test peers (Node.js 20)" >&2
	exit 1
fi

# npm ci only when the lock changed since the last install.
stamp=node_modules/.kinesisd-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
	echo "deps: installing npm test peers"
	npm ci --no-audit --no-fund --loglevel=error >/dev/null
	cp package-lock.json "$stamp"
fi
