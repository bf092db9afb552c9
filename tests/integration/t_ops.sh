#!/bin/sh
# Operations: what the systemd units, the Kubernetes example and the
# Dockerfile promise, checked against the daemon they ship; and SIGHUP.
#
#   - make install puts the units, sysusers file and example config in
#     DESTDIR with ExecStart pointing at the installed binary;
#     systemd-analyze verify passes on the source and installed units;
#     systemd-sysusers creates the kinesisd user; the units agree with the
#     daemon's defaults (socket path, shutdownTimeoutSeconds).
#   - deploy/kubernetes parses (python3-yaml): native sidecar, probes on
#     /healthz and /readyz at the port http-listen opens, the socket
#     emptyDir in both containers, IRSA, grace period, and the ConfigMap's
#     kinesisd.yaml passes --check-config.  No cluster here: kubectl only
#     renders the kustomization, when it is installed.
#   - the Dockerfile's runtime packages hold every library the binaries
#     link (readelf NEEDED -> dpkg -S); it runs as a numeric non-root user.
#   - SIGHUP: the log line, a log renamed by rotation continues in a new
#     file, and a rewritten shared credentials file is read again.
# sd_notify and systemd-socket-activate are t_daemon.sh's.
. "$(dirname "$0")/../lib/common.sh"

KD="$TOP/kinesisd"
"$KD" --print-defaults >"$T/defaults.yaml" || fail "--print-defaults"

# ---- systemd -----------------------------------------------------------
ROOT="$T/root"
make -s -C "$TOP" -o all install DESTDIR="$ROOT" PREFIX=/usr \
    >"$T/install.log" 2>&1 || fail "make install: $(tail -5 "$T/install.log")"
for f in usr/bin/kinesisd usr/bin/kinesisctl etc/kinesisd/kinesisd.yaml \
    lib/systemd/system/kinesisd.service lib/systemd/system/kinesisd.socket \
    usr/lib/sysusers.d/kinesisd.conf; do
	[ -f "$ROOT/$f" ] || fail "make install did not install /$f"
done
grep -q '^ExecStart=/usr/bin/kinesisd ' "$ROOT/lib/systemd/system/kinesisd.service" ||
    fail "installed ExecStart does not follow PREFIX"
"$ROOT/usr/bin/kinesisd" --check-config -c "$ROOT/etc/kinesisd/kinesisd.yaml" \
    >/dev/null || fail "the installed example configuration does not load"

if command -v systemd-analyze >/dev/null; then
	# verify wants ExecStart to exist: point it at the binary it will
	# run, the built one for the source unit, the installed one after.
	mkdir -p "$T/src-units" "$T/inst-units"
	sed "s|^ExecStart=/usr/local/bin/kinesisd|ExecStart=$KD|" \
	    "$TOP/systemd/kinesisd.service" >"$T/src-units/kinesisd.service"
	cp "$TOP/systemd/kinesisd.socket" "$T/src-units/"
	sed "s|^ExecStart=/usr/bin/|ExecStart=$ROOT/usr/bin/|" \
	    "$ROOT/lib/systemd/system/kinesisd.service" \
	    >"$T/inst-units/kinesisd.service"
	cp "$ROOT/lib/systemd/system/kinesisd.socket" "$T/inst-units/"
	for d in src-units inst-units; do
		systemd-analyze verify "$T/$d/kinesisd.service" \
		    "$T/$d/kinesisd.socket" >"$T/verify.out" 2>&1 ||
		    fail "systemd-analyze verify ($d): $(cat "$T/verify.out")"
		[ ! -s "$T/verify.out" ] ||
		    fail "systemd-analyze verify ($d) warns: $(cat "$T/verify.out")"
	done
	# The hardening, scored: "1.6 OK" when written; fail above 3 (MEDIUM).
	systemd-analyze security --offline=yes "$T/src-units/kinesisd.service" \
	    >"$T/security.out" 2>&1
	score=$(sed -n 's/.*Overall exposure level for kinesisd.service: \([0-9.]*\).*/\1/p' \
	    "$T/security.out")
	[ -n "$score" ] || fail "systemd-analyze security: $(tail -3 "$T/security.out")"
	awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }' ||
	    fail "exposure $score is above 3.0"
	note "systemd-analyze verify clean; exposure $score"
else
	note "no systemd-analyze: unit verification skipped"
fi
if command -v systemd-sysusers >/dev/null; then
	systemd-sysusers --root="$ROOT" >"$T/sysusers.out" 2>&1 ||
	    fail "systemd-sysusers: $(cat "$T/sysusers.out")"
	grep -q '^kinesisd:x:[0-9]*:[0-9]*:.*:/usr/sbin/nologin$' "$ROOT/etc/passwd" ||
	    fail "sysusers did not create a kinesisd system user"
	grep -q '^kinesisd:x:' "$ROOT/etc/group" || fail "no kinesisd group"
fi

# The units against the daemon: one socket path, a stop timeout above the
# shutdown the daemon allows itself, a watchdog it will feed.
$PY - "$TOP/systemd" "$T/defaults.yaml" <<'PYEOF' || fail "units vs daemon"
import re, sys, yaml
units, defaults = sys.argv[1], yaml.safe_load(open(sys.argv[2]))
def keys(path):
    d = {}
    for line in open(path):
        m = re.match(r"^([A-Za-z]+)=(.*)$", line.strip())
        if m:
            d.setdefault(m.group(1), []).append(m.group(2))
    return d
svc, sock = keys(units + "/kinesisd.service"), keys(units + "/kinesisd.socket")
def one(d, k):
    assert k in d, "missing %s=" % k
    return d[k][-1]
def seconds(v):
    m = re.fullmatch(r"(\d+)(s|min)?", v)
    assert m, v
    return int(m.group(1)) * (60 if m.group(2) == "min" else 1)
assert one(svc, "Type") == "notify"
assert one(svc, "NotifyAccess") == "main"
assert 0 < seconds(one(svc, "WatchdogSec")) <= 120
assert one(svc, "Restart") == "on-failure"
assert one(svc, "RuntimeDirectory") == "kinesisd"
assert one(svc, "User") == "kinesisd"
assert "-HUP" in one(svc, "ExecReload")
for k, v in {"NoNewPrivileges": "yes", "ProtectSystem": "strict",
             "ProtectHome": "yes", "PrivateTmp": "yes",
             "PrivateDevices": "yes", "MemoryDenyWriteExecute": "yes",
             "LockPersonality": "yes", "CapabilityBoundingSet": "",
             "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6"}.items():
    assert one(svc, k) == v, "%s=%s, want %s" % (k, one(svc, k), v)
assert "@system-service" in svc["SystemCallFilter"]
shutdown = defaults["default-consumer"]["worker"]["shutdownTimeoutSeconds"]
assert seconds(one(svc, "TimeoutStopSec")) > shutdown, \
    "TimeoutStopSec not above shutdownTimeoutSeconds %d" % shutdown
assert one(sock, "ListenStream") == defaults["socket"], \
    "socket unit %s, daemon default %s" % (one(sock, "ListenStream"), defaults["socket"])
assert defaults["socket"].startswith("/run/kinesisd/")
assert one(sock, "SocketMode") == defaults["socket-mode"]
assert one(sock, "SocketUser") == one(sock, "SocketGroup") == "kinesisd"
assert "-c /etc/kinesisd/kinesisd.yaml" in one(svc, "ExecStart")
PYEOF

# ---- Kubernetes --------------------------------------------------------
K="$TOP/deploy/kubernetes"
$PY - "$K" "$T" <<'PYEOF' || fail "deploy/kubernetes"
import glob, os, sys, yaml
kdir, tmp = sys.argv[1], sys.argv[2]
docs = []
for path in sorted(glob.glob(kdir + "/*.yaml")):
    docs += [d for d in yaml.safe_load_all(open(path)) if d]
by_kind = {}
for d in docs:
    assert "apiVersion" in d and "kind" in d, d
    by_kind.setdefault(d["kind"], []).append(d)
dep, = by_kind["Deployment"]
cm, = by_kind["ConfigMap"]
sa, = by_kind["ServiceAccount"]
kust, = by_kind["Kustomization"]
listed = set(kust["resources"])
assert listed == {os.path.basename(p) for p in glob.glob(kdir + "/*.yaml")} - {"kustomization.yaml"}, listed

spec = dep["spec"]["template"]["spec"]
labels = dep["spec"]["template"]["metadata"]["labels"]
assert all(labels.get(k) == v for k, v in dep["spec"]["selector"]["matchLabels"].items())

# IRSA: the pod's service account carries the role to assume.
assert spec["serviceAccountName"] == sa["metadata"]["name"]
assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")

# kinesisd: a native sidecar (an init container that keeps running).
kd, = [c for c in spec["initContainers"] if c["name"] == "kinesisd"]
assert kd["restartPolicy"] == "Always"
app = spec["containers"][0]

# Its configuration: the ConfigMap, mounted where -c points, valid.
conf_text = cm["data"]["kinesisd.yaml"]
conf = yaml.safe_load(conf_text)
open(tmp + "/k8s-kinesisd.yaml", "w").write(conf_text)
vols = {v["name"]: v for v in spec["volumes"]}
mounts = {m["name"]: m["mountPath"] for m in kd["volumeMounts"]}
cm_vol, = [n for n, v in vols.items() if v.get("configMap", {}).get("name") == cm["metadata"]["name"]]
args = kd.get("args", [])
assert args[args.index("-c") + 1] == mounts[cm_vol] + "/kinesisd.yaml", args

# The socket: an emptyDir at the folder of 'socket', in both containers.
sock_dir = os.path.dirname(conf["socket"])
sock_vol, = [n for n, p in mounts.items() if p == sock_dir]
assert "emptyDir" in vols[sock_vol]
assert any(m["name"] == sock_vol and m["mountPath"] == sock_dir for m in app["volumeMounts"])
env = {e["name"]: e.get("value") for e in app.get("env", [])}
assert env.get("KINESISD_SOCKET") == conf["socket"], env

# Probes: /healthz and /readyz on the port http-listen opens, on every
# address (the kubelet connects to the pod IP).
host, port = conf["http-listen"].rsplit(":", 1)
assert host in ("0.0.0.0", "[::]", ""), "http-listen %s is not reachable by the kubelet" % conf["http-listen"]
ports = {p["name"]: p["containerPort"] for p in kd["ports"]}
paths = {}
for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
    g = kd[probe]["httpGet"]
    p = ports.get(g["port"], g["port"])
    assert p == int(port), "%s probes port %s, http-listen is %s" % (probe, p, port)
    paths[probe] = g["path"]
assert paths == {"startupProbe": "/readyz", "livenessProbe": "/healthz",
                 "readinessProbe": "/readyz"}, paths

# Time to shut down: above the largest shutdownTimeoutSeconds.
longest = max([c.get("worker", {}).get("shutdownTimeoutSeconds", 25)
               for c in conf.get("consumers", {}).values()] + [25])
assert spec["terminationGracePeriodSeconds"] > longest

# Non-root, read-only, no privileges.
psc, csc = spec.get("securityContext", {}), kd.get("securityContext", {})
assert psc.get("runAsNonRoot") is True
assert csc.get("runAsUser", psc.get("runAsUser", 0)) != 0
assert csc.get("allowPrivilegeEscalation") is False
assert csc.get("readOnlyRootFilesystem") is True
assert csc["capabilities"]["drop"] == ["ALL"]
print("  deploy/kubernetes: %d objects" % len(docs))
PYEOF
"$KD" --check-config -c "$T/k8s-kinesisd.yaml" >/dev/null 2>"$T/k8s-check.err" ||
    fail "the ConfigMap's kinesisd.yaml: $(cat "$T/k8s-check.err")"
if command -v kubectl >/dev/null; then
	kubectl kustomize "$K" >"$T/kustomized.yaml" 2>"$T/kubectl.err" ||
	    fail "kubectl kustomize: $(cat "$T/kubectl.err")"
	[ "$(grep -c '^kind:' "$T/kustomized.yaml")" = 3 ] ||
	    fail "kustomize did not render 3 objects"
fi

# ---- Dockerfile --------------------------------------------------------
# The runtime stage installs a package for every library linked.
pkgs=$(sed -n '/^FROM debian:12-slim$/,$p' "$TOP/Dockerfile" |
    sed -n '/apt-get install/,/rm -rf/p' | tr ' \\' '\n\n' | grep -E '^lib|^ca-cert')
[ -n "$pkgs" ] || fail "Dockerfile: no runtime apt-get install"
grep -q '^FROM debian:12-slim AS build$' "$TOP/Dockerfile" || fail "Dockerfile: build stage"
grep -q '^USER [1-9][0-9]*:[1-9][0-9]*$' "$TOP/Dockerfile" || fail "Dockerfile: not a numeric non-root USER"
grep -q '^ENTRYPOINT \["/usr/bin/kinesisd"\]' "$TOP/Dockerfile" || fail "Dockerfile: ENTRYPOINT"
echo "$pkgs" | grep -qx ca-certificates || fail "Dockerfile: no CA certificates for HTTPS"
if command -v dpkg >/dev/null && command -v readelf >/dev/null; then
	for lib in $(readelf -d "$KD" "$TOP/kinesisctl" |
	    sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u); do
		path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ { print $NF; exit }')
		[ -n "$path" ] || fail "$lib not found by ldconfig"
		pkg=$(dpkg -S "$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")" 2>/dev/null ||
		    dpkg -S "/usr$path" 2>/dev/null)
		pkg=${pkg%%:*}
		[ -n "$pkg" ] || fail "no Debian package holds $lib"
		case $pkg in libc6) continue ;; esac # in every Debian image
		echo "$pkgs" | grep -qx "$pkg" ||
		    fail "Dockerfile runtime stage lacks $pkg (for $lib)"
	done
fi
note "Dockerfile runtime packages cover every linked library"

# ---- SIGHUP ------------------------------------------------------------
# A producer whose credentials come from a shared credentials file, and a
# text log in a file, as logrotate would see it.
start_kinesalite
create_stream ops1 1
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
export AWS_SHARED_CREDENTIALS_FILE="$T/credentials" AWS_CONFIG_FILE="$T/config"
export AWS_EC2_METADATA_DISABLED=true
: >"$AWS_CONFIG_FILE"
printf '[default]\naws_access_key_id = AKIDFIRST0000\naws_secret_access_key = SeCrEtOnE0001\n' \
    >"$AWS_SHARED_CREDENTIALS_FILE"
cat >"$T/kd.yaml" <<YAML
application-name: t-ops
socket: $T/kd.sock
http-listen: ""
log: { level: info, format: text }
producers:
  p: { stream-name: ops1 }
YAML
start_kinesisd "$T/kd.yaml"
put_one() {
	printf '{"op":"put","producer":"p","key":"k","text":"%s","id":1}\n' "$1" |
	    kd_talk 2 | grep -q '"op":"put_ok"'
}
put_one before || fail "put before SIGHUP"
grep -q 'credentials: using shared-files (key id AKIDFIRS' "$T/kinesisd.log" ||
    fail "credentials not from the shared file"

# Rotation: rename the log, rewrite the credentials, then SIGHUP.
mv "$T/kinesisd.log" "$T/kinesisd.log.1"
printf '[default]\naws_access_key_id = AKIDSECOND000\naws_secret_access_key = SeCrEtTwO0002\n' \
    >"$AWS_SHARED_CREDENTIALS_FILE"
kill -HUP "$KD_PID"
i=0
until grep -q 'SIGHUP: logs reopened' "$T/kinesisd.log" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "no SIGHUP line in a new kinesisd.log"
	sleep 0.05
done
grep -q 'SIGHUP' "$T/kinesisd.log.1" && fail "SIGHUP logged into the rotated file"
grep -q 'info daemon: SIGHUP' "$T/kinesisd.log" || fail "SIGHUP line format"
kill -0 "$KD_PID" || fail "kinesisd died on SIGHUP"
put_one after || fail "put after SIGHUP"
grep -q 'credentials: using shared-files (key id AKIDSECO' "$T/kinesisd.log" ||
    fail "the rewritten credentials file was not read again"
grep -q 'SeCrEt' "$T/kinesisd.log" "$T/kinesisd.log.1" &&
    fail "a secret access key reached the log"
note "SIGHUP: new log file, credentials re-read"

kill -TERM "$KD_PID"
wait "$KD_PID" || fail "exit code after SIGTERM"
exit 0
