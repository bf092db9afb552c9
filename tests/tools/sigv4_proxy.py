#!/usr/bin/python3
"""sigv4_proxy.py - an independent SigV4 check in front of an AWS emulator.

kinesalite and dynalite accept any signature, so they prove nothing about
signing.  This loopback HTTP proxy sits between kinesisd (or tests/tools/
kdaws) and one emulator.  For every request it receives it:

  1. recomputes the Signature Version 4 signature with botocore
     (botocore.auth.SigV4Auth) over the same method, URL, body and exactly
     the headers the request lists in SignedHeaders, at the request's own
     X-Amz-Date, with credentials that botocore itself reads from a named
     profile of a shared credentials file (botocore's
     SharedCredentialProvider: its INI parser, not kinesisd's);
  2. checks the credential scope (key id, date, region, service) and that
     the date is within AWS's 15 minute skew;
  3. writes one line, PASS or FAIL and why, to the results file;
  4. forwards the request unchanged to the emulator and the reply back,
     PASS or FAIL alike, so the client behaves as it would against AWS.

Several --profile options may be given: the key id in the request's
Credential picks which profile's secret botocore signs with; a key id of
no listed profile is a FAIL.  Nothing secret is written out: lines carry
the method, the X-Amz-Target and the first characters of the key id.

Usage:
  sigv4_proxy.py --port N --target http://127.0.0.1:4567 \\
      --service kinesis --region us-east-1 \\
      --credentials-file FILE --profile NAME [--profile NAME...] \\
      --results FILE [--debug]

--port 0 picks a free port; "PORT <n>" is printed on stdout when ready.
--debug also prints, on a FAIL, both canonical requests to stderr with
the session token redacted.
"""

import argparse
import datetime
import hmac
import http.client
import re
import sys
import threading
import types
import urllib.parse
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import botocore.auth
import botocore.credentials
from botocore.awsrequest import AWSRequest

MAX_SKEW = datetime.timedelta(minutes=15)
AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/"
    r"([^/,\s]+)/aws4_request,\s*SignedHeaders=([a-z0-9;._-]+),\s*"
    r"Signature=([0-9a-f]{64})$")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate",
              "proxy-authorization", "te", "trailers", "transfer-encoding",
              "upgrade", "expect", "host", "content-length"}


class Frozen(datetime.datetime):
    """datetime.datetime whose utcnow() is the request's X-Amz-Date."""
    at = None

    @classmethod
    def utcnow(cls):
        return cls.at


def frozen_botocore(when):
    """Makes botocore.auth sign at `when` (Debian's botocore 1.29 calls
    datetime.datetime.utcnow(); newer ones get_current_datetime())."""
    stack = ExitStack()
    Frozen.at = when
    fake = types.SimpleNamespace(**vars(datetime))
    fake.datetime = Frozen
    stack.enter_context(mock.patch.object(botocore.auth, "datetime", fake))
    if hasattr(botocore.auth, "get_current_datetime"):
        stack.enter_context(mock.patch.object(
            botocore.auth, "get_current_datetime",
            lambda *a, **k: when.replace(tzinfo=datetime.timezone.utc)))
    return stack


class Checker:
    def __init__(self, args):
        self.service = args.service
        self.region = args.region
        self.debug = args.debug
        self.lock = threading.Lock()  # botocore patching is process-wide
        self.out = open(args.results, "a", buffering=1)
        self.creds = {}
        for name in args.profile:
            c = botocore.credentials.SharedCredentialProvider(
                creds_filename=args.credentials_file,
                profile_name=name).load()
            if c is None:
                sys.exit("sigv4_proxy: no keys for profile %r in %s"
                         % (name, args.credentials_file))
            self.creds[c.access_key] = (name, c)

    def record(self, ok, what, why=""):
        line = "%s %s%s" % ("PASS" if ok else "FAIL", what,
                            (": " + why) if why else "")
        with self.lock:
            self.out.write(line + "\n")

    def check(self, method, path, headers, body):
        """Returns (ok, why).  headers: list of (name, value)."""
        hmap = {}
        for k, v in headers:
            hmap.setdefault(k.lower(), []).append(v.strip())
        auth = ",".join(hmap.get("authorization", []))
        m = AUTH_RE.match(auth)
        if not m:
            return False, "no SigV4 Authorization header"
        akid, day, region, service, signed, sig = m.groups()
        if akid not in self.creds:
            return False, "key id %s... is in no checked profile" % akid[:8]
        profile, creds = self.creds[akid]
        if region != self.region or service != self.service:
            return False, "scope %s/%s, expected %s/%s" % (
                region, service, self.region, self.service)
        names = signed.split(";")
        if names != sorted(set(names)):
            return False, "SignedHeaders not sorted and unique"
        for need in ("host", "x-amz-date"):
            if need not in names:
                return False, "%s not signed" % need
        if creds.token and "x-amz-security-token" not in names:
            return False, "x-amz-security-token not signed"
        missing = [n for n in names if n not in hmap]
        if missing:
            return False, "signed headers absent: %s" % ",".join(missing)
        amz = ",".join(hmap["x-amz-date"])
        try:
            when = datetime.datetime.strptime(amz, "%Y%m%dT%H%M%SZ")
        except ValueError:
            return False, "bad X-Amz-Date %r" % amz
        if when.strftime("%Y%m%d") != day:
            return False, "scope date %s != X-Amz-Date %s" % (day, amz)
        if abs(datetime.datetime.utcnow() - when) > MAX_SKEW:
            return False, "X-Amz-Date %s more than 15 min off" % amz

        # What botocore signs: exactly the signed headers, as received.
        url = "http://%s%s" % (",".join(hmap["host"]), path)
        req = AWSRequest(method=method, url=url, data=body,
                         headers={n: ",".join(hmap[n]) for n in names
                                  if n not in ("authorization",)})
        signer = botocore.auth.SigV4Auth(creds, self.service, self.region)
        with self.lock, frozen_botocore(when):
            signer.add_auth(req)
            ours = req.headers["Authorization"]
            canonical = ""
            if self.debug:  # as signed: without the Authorization header
                del req.headers["Authorization"]
                canonical = signer.canonical_request(req)
        bm = AUTH_RE.match(ours)
        if bm is None:
            return False, "botocore produced %r" % ours[:40]
        if bm.group(5) != signed:
            return False, "SignedHeaders %s, botocore %s" % (
                signed, bm.group(5))
        if not hmac.compare_digest(bm.group(6), sig):
            if self.debug:
                tok = creds.token or "\0"
                sys.stderr.write(
                    "--- botocore canonical request (profile %s):\n%s\n"
                    % (profile, canonical.replace(tok, "<token>")))
            return False, "signature differs from botocore's"
        return True, "profile %s" % profile


def make_handler(checker, target):
    tgt = urllib.parse.urlsplit(target)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def relay(self):
            if self.headers.get("Transfer-Encoding"):
                body = None
            else:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
            target_op = self.headers.get("X-Amz-Target", "-")
            what = "%s %s %s" % (self.command, self.path, target_op)
            if body is None:
                checker.record(False, what, "chunked request body")
                self.send_error(400, "chunked bodies are not relayed")
                return
            try:
                ok, why = checker.check(self.command, self.path,
                                        self.headers.items(), body)
            except Exception as e:  # a checker bug must show, not hang
                ok, why = False, "checker error %s: %s" % (
                    type(e).__name__, e)
            checker.record(ok, what, why)

            fwd = {k: v for k, v in self.headers.items()
                   if k.lower() not in HOP_BY_HOP}
            try:
                conn = http.client.HTTPConnection(tgt.hostname, tgt.port,
                                                  timeout=60)
                conn.request(self.command, self.path, body=body, headers=fwd)
                resp = conn.getresponse()
                data = resp.read()
                status, reason = resp.status, resp.reason
                rheaders = resp.getheaders()
                conn.close()
            except OSError as e:
                self.send_error(502, "target: %s" % e)
                return
            self.send_response(status, reason)
            for k, v in rheaders:
                if k.lower() not in HOP_BY_HOP and k.lower() != "date":
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = relay

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--target", required=True)
    ap.add_argument("--service", required=True)
    ap.add_argument("--region", required=True)
    ap.add_argument("--credentials-file", required=True)
    ap.add_argument("--profile", action="append", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--debug", action="store_true")
    args = ap.parse_args()
    checker = Checker(args)
    srv = ThreadingHTTPServer(("127.0.0.1", args.port),
                              make_handler(checker, args.target))
    srv.daemon_threads = True
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
