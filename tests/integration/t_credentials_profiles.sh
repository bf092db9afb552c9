#!/bin/sh
# Credentials from a profile of the shared files that holds no keys, as the
# AWS CLI reads them (README, "Credentials"):
#   (a) credential_process: a tool that prints the credentials as JSON
#       (written here; it also talks on stderr, which kinesisd logs);
#   (b) an assume-role profile: role_arn + source_profile (static keys),
#       through STS AssumeRole, served by tests/tools/fake_aws_meta.py,
#       which checks kinesisd's SigV4 signature of the call with botocore
#       and hands out credentials fixed by this test.
# Either way kinesisd produces records into kinesalite through
# tests/tools/sigv4_proxy.py, which checks every Kinesis request's
# signature with botocore against the credentials the profile should have
# produced (the tool's keys, then the assumed role's), and the records are
# read back with the AWS CLI.  No secret may reach kinesisd's log.
. "$(dirname "$0")/../lib/common.sh"

PROXY="$TOP/tests/tools/sigv4_proxy.py"
REGION=us-east-1
S=profiles
$PY -c 'import botocore' 2>/dev/null || fail "botocore missing (python3-botocore)"

start_kinesalite
create_stream $S 1

# --- the fake STS; it stops when we do (--stdin).
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

# Distinct, unguessable values, so a hit in the log can only be a leak.
rnd() { $PY -c 'import secrets,sys; print(sys.argv[1] + secrets.token_urlsafe(30))' "$1"; }
PROC_SECRET=$(rnd procsecret)
PROC_TOKEN=$(rnd proctoken)
SRC_SECRET=$(rnd srcsecret)
ROLE_SECRET=$(rnd rolesecret)
ROLE_TOKEN=$(rnd roletoken)
ROLE=arn:aws:iam::123456789012:role/kinesisd-producer
# The fake accepts AssumeRole signed by the source profile's keys only, and
# hands out the role credentials the proxy knows.
curl -fsS "$META/_ctl?sts_keys=AKIDINTEGSOURCE1:$SRC_SECRET&sts_region=$REGION&sts_fixed=ASIAINTEGROLE001:$ROLE_SECRET:$ROLE_TOKEN" \
    >/dev/null || fail "cannot configure fake_aws_meta.py"

# --- (a)'s tool: JSON on stdout, a line on stderr, counts its runs.
cat >"$T/creds-tool.sh" <<EOF
#!/bin/sh
echo "creds-tool: issuing credentials for \$1" >&2
echo run >>"$T/tool.runs"
exp=\$(date -u -d "@\$((\$(date +%s) + 3600))" +%Y-%m-%dT%H:%M:%SZ)
cat <<JSON
{"Version": 1, "AccessKeyId": "AKIDINTEGPROC001",
 "SecretAccessKey": "$PROC_SECRET", "SessionToken": "$PROC_TOKEN",
 "Expiration": "\$exp"}
JSON
EOF
chmod 700 "$T/creds-tool.sh"

cat >"$T/config" <<EOF
[default]
region = $REGION

[profile kd-proc]
credential_process = $T/creds-tool.sh kinesisd

[profile kd-role]
role_arn = $ROLE
source_profile = kd-source
role_session_name = kinesisd-integration
external_id = integ-42
duration_seconds = 3600
EOF
cat >"$T/credentials" <<EOF
[default]
aws_access_key_id = AKIDDEFAULTDECOY0000
aws_secret_access_key = decoy-secret-must-not-be-used

[kd-source]
aws_access_key_id = AKIDINTEGSOURCE1
aws_secret_access_key = $SRC_SECRET
EOF

# The proxy's view: what each case's requests must be signed with.
cat >"$T/proxy-credentials" <<EOF
[proc]
aws_access_key_id = AKIDINTEGPROC001
aws_secret_access_key = $PROC_SECRET
aws_session_token = $PROC_TOKEN

[role]
aws_access_key_id = ASIAINTEGROLE001
aws_secret_access_key = $ROLE_SECRET
aws_session_token = $ROLE_TOKEN
EOF
port=$(free_port)
spawn proxy $PY "$PROXY" --port "$port" --target "$KINESIS_URL" \
    --service kinesis --region "$REGION" \
    --credentials-file "$T/proxy-credentials" --profile proc --profile role \
    --results "$T/proxy.results" --debug
wait_port "$port" || fail "sigv4_proxy did not start"
KPROXY="http://127.0.0.1:$port"

# --- kinesisd's environment: only the profile can give credentials.
DUMMY_AKID=$AWS_ACCESS_KEY_ID DUMMY_SECRET=$AWS_SECRET_ACCESS_KEY
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
    AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN AWS_ROLE_SESSION_NAME \
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI \
    AWS_CONTAINER_AUTHORIZATION_TOKEN AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \
    AWS_PROFILE 2>/dev/null || true
export HOME="$T" AWS_CONFIG_FILE="$T/config" \
    AWS_SHARED_CREDENTIALS_FILE="$T/credentials" \
    AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL_STS="$META/sts"

# The AWS CLI reads the stream back straight from kinesalite, with the
# dummy keys and no profile.
cli() {
	env -u AWS_PROFILE AWS_CONFIG_FILE=/dev/null \
	    AWS_SHARED_CREDENTIALS_FILE=/dev/null \
	    AWS_ACCESS_KEY_ID="$DUMMY_AKID" \
	    AWS_SECRET_ACCESS_KEY="$DUMMY_SECRET" \
	    "$AWS" --endpoint-url "$KINESIS_URL" --region "$REGION" kinesis "$@"
}

# run_case NAME PROFILE PROVIDER: kinesisd with AWS_PROFILE=PROFILE puts
# five records "NAME-1".."NAME-5" through the proxy, then stops.
run_case() {
	name=$1 profile=$2 provider=$3
	cat >"$T/$name.yaml" <<YAML
socket: $T/$name.sock
http-listen: ""
region: $REGION
log: { level: debug }
endpoints: { kinesis: $KPROXY }
producers:
  p:
    stream-name: $S
    kpl: { AggregationEnabled: false, RecordMaxBufferedTime: 10 }
YAML
	export AWS_PROFILE="$profile"
	start_kinesisd "$T/$name.yaml" "$name"
	"$TOP/kinesisctl" put p --key "$name" "$name-1" "$name-2" "$name-3" \
	    "$name-4" "$name-5" >"$T/$name.put" 2>&1 ||
	    fail "$name: puts with credentials of profile $profile: $(cat "$T/$name.put")"
	kill -TERM "$KD_PID"
	wait "$KD_PID" || fail "$name: exit code after SIGTERM"
	unset AWS_PROFILE
	grep -q "credentials: using $provider (key id" "$T/$name.log" ||
	    fail "$name: credentials did not come from $provider"
}

# --- (a) credential_process
run_case proc kd-proc credential-process
grep -q "profile 'kd-proc': credential_process: creds-tool: issuing credentials for kinesisd" \
    "$T/proc.log" || fail "proc: the tool's stderr is not in the log"
[ "$(wc -l <"$T/tool.runs")" -eq 1 ] ||
    fail "proc: the tool ran $(wc -l <"$T/tool.runs") times, not once"
grep -q '^PASS .*PutRecords.*profile proc$' "$T/proxy.results" ||
    fail "proc: no PutRecords signed with the tool's credentials"
note "proc: credentials from credential_process, $(grep -c 'profile proc$' "$T/proxy.results") requests signed with them"

# --- (b) assume-role
run_case role kd-role assume-role
curl -fsS "$META/_stats" >"$T/stats.json" || fail "fake_aws_meta.py stats"
$PY - "$T/stats.json" "$ROLE" <<'PYEOF' || fail "role: the AssumeRole call: $(cat "$T/stats.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["counts"].get("sts_assume", 0) == 1, s["counts"]
last = s["last"]
assert last["sts_sig"] == "ok", last["sts_sig"]  # botocore's verdict
assert last["sts_akid"] == "AKIDINTEGSOURCE1", last["sts_akid"]
assert last["sts_role"] == sys.argv[2], last["sts_role"]
assert last["sts_session"] == "kinesisd-integration", last["sts_session"]
assert last["sts_external_id"] == "integ-42", last["sts_external_id"]
assert last["sts_duration"] == "3600", last["sts_duration"]
PYEOF
grep -q '^PASS .*PutRecords.*profile role$' "$T/proxy.results" ||
    fail "role: no PutRecords signed with the assumed role's credentials"
note "role: AssumeRole signed correctly, $(grep -c 'profile role$' "$T/proxy.results") requests signed with the role's credentials"

# --- every Kinesis request passed botocore's check
bad=$(grep -vc '^PASS ' "$T/proxy.results")
[ "$bad" -eq 0 ] || fail "$bad request(s) failed the botocore check:
$(grep -v '^PASS ' "$T/proxy.results")"

# --- the records, read back with the AWS CLI
shard=$(cli list-shards --stream-name $S --query 'Shards[0].ShardId' \
    --output text) || fail "list-shards"
it=$(cli get-shard-iterator --stream-name $S --shard-id "$shard" \
    --shard-iterator-type TRIM_HORIZON --query ShardIterator --output text) ||
    fail "get-shard-iterator"
cli get-records --shard-iterator "$it" --limit 100 \
    --query 'Records[].Data' --output text >"$T/records.b64" ||
    fail "get-records"
tr '\t' '\n' <"$T/records.b64" | while read -r d; do
	[ -n "$d" ] && printf '%s' "$d" | base64 -d && echo
done >"$T/records.txt"
for name in proc role; do
	for n in 1 2 3 4 5; do
		grep -qx "$name-$n" "$T/records.txt" ||
		    fail "record $name-$n not read back: $(cat "$T/records.txt")"
	done
done
note "10 records read back with the AWS CLI"

# --- no secret in kinesisd's logs, not even cut short
for s in "$PROC_SECRET" "$PROC_TOKEN" "$SRC_SECRET" "$ROLE_SECRET" \
    "$ROLE_TOKEN"; do
	for needle in "$s" "$(printf '%.12s' "$s")"; do
		if grep -F -- "$needle" "$T/proc.log" "$T/role.log" >"$T/hits"; then
			fail "secret '$needle' logged: $(head -c 300 "$T/hits")"
		fi
	done
done
exit 0
