#!/usr/bin/python3
"""fake_aws_meta.py - FAKE credential endpoints for kinesisd's unit tests.

This is a stand-in, not an emulator: no real peer exists on a build host
for the EC2 instance metadata service (IMDS), the ECS/EKS container
credentials agent, or STS.  It implements just enough of each, from the
public AWS documentation, for tests/unit/test_credentials.c to drive every
provider of the credentials chain over real HTTP on loopback:

  IMDSv2    PUT  /latest/api/token           (needs the TTL header)
            GET  /latest/meta-data/iam/security-credentials/[ROLE]
            GET  /latest/meta-data/placement/region
  container GET  /container/...              (checks Authorization)
  STS       POST /sts/                       (AssumeRoleWithWebIdentity,
                                              AssumeRole)

AssumeRole must be signed (SigV4, service sts): the fake recomputes the
signature with botocore (botocore.auth.SigV4Auth, as tests/tools/
sigv4_proxy.py does) from the key ids it knows: those in sts_keys, and
every set it has handed out itself, so a chain of roles can be checked
hop by hop.  A signature that differs is refused as AWS refuses it (403
SignatureDoesNotMatch), and /_stats says why in last.sts_sig.

Everything it serves is made up: key ids count up (ASIAIMDS0001, ...), so
a test can tell a refresh from a cached answer, and expirations are "now +
ttl".  Behaviour is switched at run time by the test itself:

  GET /_ctl?reset=1            back to defaults, counters to zero
  GET /_ctl?KEY=VALUE&...      see DEFAULTS below for the keys
  GET /_stats                  counters and the last request details (JSON)

Usage: fake_aws_meta.py [--port N] [--stdin]
--port 0 (the default) picks a free port.  Prints "PORT <n>" on stdout once
it listens; stops on SIGTERM, and with --stdin also when its standard input
reaches end of file (a pipe from the test), so a crashed test leaves
nothing behind.
"""

import datetime
import hmac
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

DEFAULTS = {
    "ttl": "3600",           # seconds until served credentials expire
    "expired": "0",          # 1: serve an Expiration in the past
    "delay": "0",            # seconds to wait before answering anything
    "imds_mode": "ok",       # ok | v1only | norole | fail | garbage
    "container_mode": "ok",  # ok | fail | garbage
    "container_token": "fake-container-token",  # expected Authorization
    "sts_mode": "ok",        # ok | fail | garbage
    "sts_token": "fake-web-identity-token",     # expected WebIdentityToken
    "sts_role": "arn:aws:iam::123456789012:role/fake",
    # AssumeRole: who may sign (AKID:SECRET[:TOKEN],...), besides the
    # credentials this fake handed out; the region expected in the scope;
    # the role always refused; fixed credentials to hand out instead of
    # counted ones (AKID:SECRET:TOKEN, for a test that checks their use).
    "sts_keys": "AKIDSOURCE:fake-secret-source,"
                "AKIDPROC0001:fake-secret-proc",
    "sts_region": "us-east-1",
    "sts_denied_role": "arn:aws:iam::123456789012:role/denied",
    "sts_fixed": "",
    "garbage": "0",          # which garbage body (index into GARBAGE)
    "region": "eu-west-3",   # served at placement/region
    "role": "fake-role",
}

# Bodies meant to break a careless parser.
GARBAGE = [
    b"",
    b"\x00\xff\xfe<Credentials><AccessKeyId>\x00",
    b"<Credentials><AccessKeyId>AKID</AccessKeyId>",            # truncated
    b"<Credentials></Credentials>",
    b"<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>S"
    b"</SecretAccessKey><SessionToken>T</SessionToken><Expiration>"
    b"yesterday</Expiration></Credentials>",
    b"{\"AccessKeyId\": 12, \"SecretAccessKey\": [], \"Token\": {}}",
    b"[1,2,3]",
    b"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":\"T\","
    b"\"Expiration\":\"2024-13-45T99:99:99Z\"}",
    b"{" * 5000,
    b"<" * 70000,
    b"<AccessKeyId>" * 3000 + b"</AccessKeyId>",
    b"{\"AccessKeyId\":\"A B\",\"SecretAccessKey\":\"S\",\"Token\":\"T\","
    b"\"Expiration\":\"2999-01-01T00:00:00Z\"}",
]


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.cfg = dict(DEFAULTS)
        self.counts = {}
        self.serial = 0
        self.tokens = set()
        self.last = {}
        self.issued = {}  # STS key id -> (secret, token)

    def count(self, what):
        self.counts[what] = self.counts.get(what, 0) + 1

    def next_serial(self):
        self.serial += 1
        return self.serial


STATE = State()


def iso(t):
    return datetime.datetime.fromtimestamp(
        t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_creds(prefix):
    """Counted fake credentials; caller holds STATE.lock."""
    n = STATE.next_serial()
    ttl = int(STATE.cfg["ttl"])
    exp = time.time() + ttl
    if STATE.cfg["expired"] == "1":
        exp = time.time() - 600
    return {
        "AccessKeyId": "ASIA%s%04d" % (prefix, n),
        "SecretAccessKey": "fake-secret-%s-%04d" % (prefix.lower(), n),
        "Token": "fake-session-token-%s-%04d" % (prefix.lower(), n),
        "Expiration": iso(exp),
    }


def sts_reply(action, role, c):
    return (
        "<%sResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
        "<%sResult>"
        "<SubjectFromWebIdentityToken>sub</SubjectFromWebIdentityToken>"
        "<AssumedRoleUser><Arn>%s/x</Arn><AssumedRoleId>AROAFAKE:x"
        "</AssumedRoleId></AssumedRoleUser>"
        "<Credentials>\n  <SessionToken>%s</SessionToken>\n"
        "  <SecretAccessKey>%s</SecretAccessKey>\n"
        "  <Expiration>%s</Expiration>\n"
        "  <AccessKeyId>%s</AccessKeyId>\n</Credentials>"
        "</%sResult>"
        "<ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata>"
        "</%sResponse>" % (
            action, action, role, c["Token"], c["SecretAccessKey"],
            c["Expiration"], c["AccessKeyId"], action, action))


SIGV4_LOCK = threading.Lock()  # botocore's clock is patched process-wide


def check_sigv4(method, path, headers, body, keys, region):
    """None when the request's SigV4 signature (service sts) is the one
    botocore computes over the same bytes with the secret of its key id;
    else why not."""
    import botocore.auth
    import botocore.credentials
    from botocore.awsrequest import AWSRequest
    from sigv4_proxy import AUTH_RE, frozen_botocore

    hmap = {}
    for k, v in headers.items():
        hmap.setdefault(k.lower(), []).append(v.strip())
    m = AUTH_RE.match(",".join(hmap.get("authorization", [])))
    if not m:
        return "no SigV4 Authorization header"
    akid, day, scope_region, service, signed, sig = m.groups()
    if akid not in keys:
        return "key id %s... is not known" % akid[:8]
    secret, token = keys[akid]
    if scope_region != region or service != "sts":
        return "scope %s/%s, expected %s/sts" % (scope_region, service,
                                                 region)
    names = signed.split(";")
    for need in ("host", "x-amz-date"):
        if need not in names:
            return "%s not signed" % need
    if token:
        if "x-amz-security-token" not in names:
            return "x-amz-security-token not signed"
        if ",".join(hmap.get("x-amz-security-token", [])) != token:
            return "wrong session token"
    missing = [n for n in names if n not in hmap]
    if missing:
        return "signed headers absent: %s" % ",".join(missing)
    amz = ",".join(hmap["x-amz-date"])
    try:
        when = datetime.datetime.strptime(amz, "%Y%m%dT%H%M%SZ")
    except ValueError:
        return "bad X-Amz-Date %r" % amz
    if when.strftime("%Y%m%d") != day:
        return "scope date differs from X-Amz-Date"
    if abs(datetime.datetime.utcnow() - when) > datetime.timedelta(
            minutes=15):
        return "X-Amz-Date more than 15 min off"
    req = AWSRequest(method=method,
                     url="http://%s%s" % (",".join(hmap["host"]), path),
                     data=body,
                     headers={n: ",".join(hmap[n]) for n in names})
    signer = botocore.auth.SigV4Auth(
        botocore.credentials.Credentials(akid, secret, token), "sts", region)
    with SIGV4_LOCK, frozen_botocore(when):
        signer.add_auth(req)
    bm = AUTH_RE.match(req.headers["Authorization"])
    if bm is None or bm.group(5) != signed:
        return "SignedHeaders differ from botocore's"
    if not hmac.compare_digest(bm.group(6), sig):
        return "signature differs from botocore's"
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: tests read /_stats
        pass

    def reply(self, status, body, ctype="text/plain"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def pause(self):
        d = float(STATE.cfg["delay"])
        if d > 0:
            time.sleep(d)

    # ---- control ------------------------------------------------------
    def control(self, url):
        q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        with STATE.lock:
            if "reset" in q:
                STATE.reset()
            for k, v in q.items():
                if k in DEFAULTS:
                    STATE.cfg[k] = v[-1]
                elif k == "rotate":  # forget IMDS tokens: next GET is 401
                    STATE.tokens.clear()
                elif k != "reset":
                    return self.reply(400, "unknown key %s\n" % k)
        self.reply(200, "ok\n")

    def stats(self):
        with STATE.lock:
            out = {"counts": STATE.counts, "last": STATE.last}
            self.reply(200, json.dumps(out), "application/json")

    # ---- IMDS -----------------------------------------------------------
    def imds_token(self):
        with STATE.lock:
            STATE.count("imds_token")
            mode = STATE.cfg["imds_mode"]
            if mode == "v1only":
                return self.reply(403, "")
            if not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                return self.reply(400, "missing TTL header")
            tok = "imds-token-%d" % STATE.next_serial()
            STATE.tokens.add(tok)
        self.reply(200, tok)

    def imds_get(self, path):
        with STATE.lock:
            cfg = STATE.cfg
            tok = self.headers.get("X-aws-ec2-metadata-token")
            if cfg["imds_mode"] != "v1only" and tok not in STATE.tokens:
                STATE.count("imds_401")
                return self.reply(401, "")
            STATE.last["imds_token_sent"] = tok is not None
            base = "/latest/meta-data/iam/security-credentials/"
            if path == "/latest/meta-data/placement/region":
                STATE.count("imds_region")
                return self.reply(200, cfg["region"])
            if path == base:
                STATE.count("imds_role")
                if cfg["imds_mode"] == "norole":
                    return self.reply(404, "")
                return self.reply(200, cfg["role"] + "\n")
            if path == base + cfg["role"]:
                STATE.count("imds_creds")
                if cfg["imds_mode"] == "fail":
                    return self.reply(500, "")
                if cfg["imds_mode"] == "garbage":
                    return self.reply(200, GARBAGE[int(cfg["garbage"])])
                c = make_creds("IMDS")
                c.update({"Code": "Success", "Type": "AWS-HMAC",
                          "LastUpdated": iso(time.time())})
                return self.reply(200, json.dumps(c), "application/json")
        self.reply(404, "")

    # ---- container ------------------------------------------------------
    def container(self):
        with STATE.lock:
            STATE.count("container")
            cfg = STATE.cfg
            auth = self.headers.get("Authorization")
            STATE.last["container_auth_ok"] = auth == cfg["container_token"]
            if auth != cfg["container_token"]:
                return self.reply(401, json.dumps(
                    {"code": "AccessDenied",
                     "message": "bad authorization token"}),
                    "application/json")
            if cfg["container_mode"] == "fail":
                return self.reply(500, "")
            if cfg["container_mode"] == "garbage":
                return self.reply(200, GARBAGE[int(cfg["garbage"])])
            c = make_creds("CONT")
            c["RoleArn"] = "arn:aws:iam::123456789012:role/task"
        self.reply(200, json.dumps(c), "application/json")

    # ---- STS -------------------------------------------------------------
    def sts(self):
        raw = self.body()
        form = urllib.parse.parse_qs(raw.decode("utf-8", "replace"))
        get = lambda k: (form.get(k) or [""])[-1]
        if get("Action") == "AssumeRole":
            return self.assume_role(raw, get)
        with STATE.lock:
            STATE.count("sts")
            cfg = STATE.cfg
            STATE.last["sts_session"] = get("RoleSessionName")
            STATE.last["sts_content_type"] = self.headers.get("Content-Type")
            if cfg["sts_mode"] == "garbage":
                return self.reply(200, GARBAGE[int(cfg["garbage"])])
            ok = (get("Action") == "AssumeRoleWithWebIdentity"
                  and get("Version") == "2011-06-15"
                  and get("RoleArn") == cfg["sts_role"]
                  and get("RoleSessionName") != ""
                  and get("WebIdentityToken") == cfg["sts_token"]
                  and self.headers.get("Authorization") is None)
            if cfg["sts_mode"] == "fail" or not ok:
                return self.sts_error(400, "InvalidIdentityToken",
                                      "Couldn't verify the token &amp; role")
            c = make_creds("STS")
            STATE.issued[c["AccessKeyId"]] = (c["SecretAccessKey"], c["Token"])
        self.reply(200, sts_reply("AssumeRoleWithWebIdentity",
                                  cfg["sts_role"], c), "text/xml")

    def sts_error(self, status, code, msg):
        self.reply(status, (
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/"
            "2011-06-15/\"><Error><Type>Sender</Type><Code>%s</Code>"
            "<Message>%s</Message></Error><RequestId>fake</RequestId>"
            "</ErrorResponse>" % (code, msg)), "text/xml")

    def assume_role(self, raw, get):
        with STATE.lock:
            STATE.count("sts_assume")
            cfg = dict(STATE.cfg)
            keys = dict(STATE.issued)
        for entry in filter(None, cfg["sts_keys"].split(",")):
            part = entry.split(":")
            keys[part[0]] = (part[1], part[2] if len(part) > 2 else None)
        why = check_sigv4(self.command, self.path, self.headers, raw, keys,
                          cfg["sts_region"])
        with STATE.lock:
            last = STATE.last
            last["sts_action"] = get("Action")
            last["sts_sig"] = why or "ok"
            last["sts_role"] = get("RoleArn")
            last["sts_session"] = get("RoleSessionName")
            last["sts_duration"] = get("DurationSeconds")
            last["sts_external_id"] = get("ExternalId")
            last["sts_version"] = get("Version")
            auth = self.headers.get("Authorization") or ""
            last["sts_akid"] = auth.split("Credential=")[-1].split("/")[0]
            roles = STATE.last.setdefault("sts_roles", [])
            roles.append(get("RoleArn"))
            if cfg["sts_mode"] == "garbage":
                return self.reply(200, GARBAGE[int(cfg["garbage"])])
            if why is not None:
                return self.sts_error(403, "SignatureDoesNotMatch",
                                      "The request signature we calculated "
                                      "does not match the signature you "
                                      "provided")
            if cfg["sts_mode"] == "fail" or \
                    get("RoleArn") == cfg["sts_denied_role"]:
                return self.sts_error(403, "AccessDenied",
                                      "not authorized to perform "
                                      "sts:AssumeRole")
            if (get("Version") != "2011-06-15"
                    or not get("RoleArn").startswith("arn:aws:iam::")
                    or get("RoleSessionName") == ""):
                return self.sts_error(400, "ValidationError",
                                      "bad AssumeRole parameters")
            c = make_creds("STS")
            if cfg["sts_fixed"]:
                akid, secret, token = cfg["sts_fixed"].split(":", 2)
                c.update({"AccessKeyId": akid, "SecretAccessKey": secret,
                          "Token": token})
            STATE.issued[c["AccessKeyId"]] = (c["SecretAccessKey"], c["Token"])
        self.reply(200, sts_reply("AssumeRole", get("RoleArn"), c),
                   "text/xml")

    # ---- dispatch ---------------------------------------------------------
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/_ctl":
            return self.control(url)
        if url.path == "/_stats":
            return self.stats()
        self.pause()
        if url.path.startswith("/latest/"):
            return self.imds_get(url.path)
        if url.path.startswith("/container/"):
            return self.container()
        self.reply(404, "")

    def do_PUT(self):
        self.body()
        self.pause()
        if self.path == "/latest/api/token":
            return self.imds_token()
        self.reply(404, "")

    def do_POST(self):
        self.pause()
        if self.path.startswith("/sts"):
            return self.sts()
        self.body()
        self.reply(404, "")


def main():
    port, watch = 0, False
    args = sys.argv[1:]
    while args:
        a = args.pop(0)
        if a == "--port" and args:
            port = int(args.pop(0))
        elif a == "--stdin":
            watch = True
        else:
            sys.exit("usage: fake_aws_meta.py [--port N] [--stdin]")
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))

    def watch_stdin():
        sys.stdin.read()
        srv.shutdown()

    if watch:
        threading.Thread(target=watch_stdin, daemon=True).start()
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
