#!/bin/sh
# Secrets never reach the log (SPEC section 2, issue 10): kinesisd at log
# level trace, in text and JSON, gets its credentials from each provider of
# the chain in turn — environment, a shared credentials file with a session
# token, web identity (STS), the container agent and IMDSv2, the last three
# served by tests/tools/fake_aws_meta.py — and puts records to kinesalite
# with them.  The whole log must hold no secret access key, session token,
# web identity token, container authorization token or IMDS session token,
# not even their first 12 characters, and no Authorization or
# X-Amz-Security-Token value, no Signature=.
. "$(dirname "$0")/../lib/common.sh"

start_kinesalite
create_stream secrets 1

# The fake STS, container agent and IMDS; it stops when we do (--stdin).
mkfifo "$T/meta.in"
$PY "$TOP/tests/tools/fake_aws_meta.py" --stdin <"$T/meta.in" >"$T/meta.out" 2>&1 &
PIDS="$PIDS $!"
exec 3>"$T/meta.in"
i=0
while ! grep -q '^PORT ' "$T/meta.out" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "fake_aws_meta.py did not start"
	sleep 0.05
done
META="http://127.0.0.1:$(sed -n 's/^PORT //p' "$T/meta.out")"

# Distinct, unguessable values, so a hit can only be a leak.
rnd() { $PY -c 'import secrets,sys; print(sys.argv[1] + secrets.token_urlsafe(30))' "$1"; }
ENV_SECRET=$(rnd envsecret)
ENV_TOKEN=$(rnd envtoken)
FILE_SECRET=$(rnd filesecret)
FILE_TOKEN=$(rnd filetoken)
WEBID_TOKEN=$(rnd webidtoken)
CONT_AUTH=$(rnd contauth)
curl -fsS "$META/_ctl?sts_token=$WEBID_TOKEN&container_token=$CONT_AUTH" \
    >/dev/null || fail "cannot configure fake_aws_meta.py"

cat >"$T/credentials" <<EOF
[default]
aws_access_key_id = AKIDFROMFILE
aws_secret_access_key = $FILE_SECRET
aws_session_token = $FILE_TOKEN
EOF
: >"$T/config"
printf '%s\n' "$WEBID_TOKEN" >"$T/webid-token"

# Nothing from the caller's environment may answer instead of the
# provider under test.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
    AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN AWS_ROLE_SESSION_NAME \
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI \
    AWS_CONTAINER_AUTHORIZATION_TOKEN AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \
    AWS_EC2_METADATA_SERVICE_ENDPOINT AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE \
    AWS_ENDPOINT_URL_STS AWS_PROFILE 2>/dev/null || true
export HOME="$T" AWS_SHARED_CREDENTIALS_FILE="$T/none" AWS_CONFIG_FILE="$T/config"

# run_case NAME FORMAT PROVIDER VAR=VALUE...: kinesisd with those variables
# set, 20 puts that must all succeed, SIGTERM; the log is $T/NAME.log.
run_case() {
	name=$1 format=$2 provider=$3
	shift 3
	cat >"$T/$name.yaml" <<YAML
socket: $T/$name.sock
http-listen: ""
log: { level: trace, format: $format }
producers:
  p: { stream-name: secrets, kpl: { RecordMaxBufferedTime: 10 } }
YAML
	export AWS_EC2_METADATA_DISABLED=true
	for kv in "$@"; do export "$kv"; done
	start_kinesisd "$T/$name.yaml" "$name"
	$PY - "$KD_SOCK" <<'PYEOF' || fail "$name: puts with $provider credentials"
import sys
sys.path.insert(0, "tests/lib")
from kdclient import Conn
c = Conn(sys.argv[1], timeout=30)
for i in range(20):
    c.send({"op": "put", "producer": "p", "key": "k%d" % i,
            "text": "secret-test %d" % i, "id": i})
ok = 0
while ok < 20:
    m = c.recv()
    assert m is not None, "timed out after %d put_ok" % ok
    assert m["op"] == "put_ok", m
    ok += 1
PYEOF
	kill -TERM "$KD_PID"
	wait "$KD_PID" || fail "$name: exit code after SIGTERM"
	for kv in "$@"; do unset "${kv%%=*}"; done
	export AWS_SHARED_CREDENTIALS_FILE="$T/none"
	grep -q "credentials: using $provider" "$T/$name.log" ||
	    fail "$name: credentials did not come from $provider"
	# The trace was on: requests and replies were written out.
	grep -q '> POST' "$T/$name.log" || fail "$name: no wire trace in the log"
	grep -q 'PutRecords' "$T/$name.log" || fail "$name: no PutRecords traced"
	note "$name: 20 puts with $provider credentials, $(wc -l <"$T/$name.log") log lines"
}

run_case env text environment \
    AWS_ACCESS_KEY_ID=AKIDFROMENV AWS_SECRET_ACCESS_KEY="$ENV_SECRET" \
    AWS_SESSION_TOKEN="$ENV_TOKEN"
run_case file json shared-files AWS_SHARED_CREDENTIALS_FILE="$T/credentials"
run_case webid text web-identity \
    AWS_WEB_IDENTITY_TOKEN_FILE="$T/webid-token" \
    AWS_ROLE_ARN=arn:aws:iam::123456789012:role/fake \
    AWS_ENDPOINT_URL_STS="$META/sts"
run_case container json container \
    AWS_CONTAINER_CREDENTIALS_FULL_URI="$META/container/creds" \
    AWS_CONTAINER_AUTHORIZATION_TOKEN="$CONT_AUTH"
run_case imds text imds \
    AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT="$META"

# What the fake served: secrets and session tokens are numbered
# (fake-secret-sts-0001, fake-session-token-imds-0002, ...), IMDS session
# tokens too (imds-token-N).
LOGS="$T/env.log $T/file.log $T/webid.log $T/container.log $T/imds.log"
for s in "$ENV_SECRET" "$ENV_TOKEN" "$FILE_SECRET" "$FILE_TOKEN" \
    "$WEBID_TOKEN" "$CONT_AUTH" fake-secret- fake-session-token- imds-token-; do
	# The whole value, and its first 12 characters: a cut secret leaks too.
	for needle in "$s" "$(printf '%.12s' "$s")"; do
		if grep -F -- "$needle" $LOGS >"$T/hits"; then
			fail "secret '$needle' logged: $(head -c 300 "$T/hits")"
		fi
	done
done
# Header values, whatever they are, and the signature.
if grep -iE 'authorization"?[:=] *"?[^<" ]' $LOGS | grep -v '<redacted>' >"$T/hits" ||
    grep -iE 'x-amz-security-token"?[:=] *"?[^<" ]' $LOGS |
    grep -v '<redacted>' >>"$T/hits" ||
    grep -F 'Signature=' $LOGS >>"$T/hits"; then
	fail "signing header logged: $(head -c 300 "$T/hits")"
fi
# The STS request body holds the token: it must not be traced either
# (checked above), and the fake must really have been asked.
curl -fsS "$META/_stats" >"$T/stats.json" || fail "fake_aws_meta.py stats"
$PY - "$T/stats.json" <<'PYEOF' || fail "providers were not asked: $(cat "$T/stats.json")"
import json, sys
s = json.load(open(sys.argv[1]))
c = s.get("counts", s)
for k in ("sts", "container", "imds_creds"):
    assert c.get(k, 0) >= 1, k
PYEOF
exit 0
