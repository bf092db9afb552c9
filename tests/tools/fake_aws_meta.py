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
  STS       POST /sts/                       (AssumeRoleWithWebIdentity)

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
import json
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
        raw = self.body().decode("utf-8", "replace")
        form = urllib.parse.parse_qs(raw)
        get = lambda k: (form.get(k) or [""])[-1]
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
                return self.reply(400, (
                    "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/"
                    "2011-06-15/\"><Error><Type>Sender</Type><Code>"
                    "InvalidIdentityToken</Code><Message>Couldn't verify "
                    "the token &amp; role</Message></Error><RequestId>"
                    "fake</RequestId></ErrorResponse>"), "text/xml")
            c = make_creds("STS")
        xml = (
            "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts."
            "amazonaws.com/doc/2011-06-15/\">"
            "<AssumeRoleWithWebIdentityResult>"
            "<SubjectFromWebIdentityToken>sub</SubjectFromWebIdentityToken>"
            "<AssumedRoleUser><Arn>%s/x</Arn><AssumedRoleId>AROAFAKE:x"
            "</AssumedRoleId></AssumedRoleUser>"
            "<Credentials>\n  <SessionToken>%s</SessionToken>\n"
            "  <SecretAccessKey>%s</SecretAccessKey>\n"
            "  <Expiration>%s</Expiration>\n"
            "  <AccessKeyId>%s</AccessKeyId>\n</Credentials>"
            "</AssumeRoleWithWebIdentityResult>"
            "<ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata>"
            "</AssumeRoleWithWebIdentityResponse>" % (
                cfg["sts_role"], c["Token"], c["SecretAccessKey"],
                c["Expiration"], c["AccessKeyId"]))
        self.reply(200, xml, "text/xml")

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
