#!/usr/bin/python3
"""faultproxy.py -- a FAKE: a loopback HTTP proxy that injects AWS faults.

This is a test tool, not AWS.  It sits between kinesisd and a local
emulator (kinesalite for Kinesis, dynalite for DynamoDB), passes requests
through unchanged, and -- when a rule says so -- answers in the emulator's
place with the failures the real services produce: throttling, 500s,
connection resets, slow replies, PutRecords partial failures, DynamoDB
throttling and conditional-check failures.  The error bodies imitate the
services' JSON error format; nothing here proves that AWS fails exactly
like this, only that kinesisd survives failures of these shapes.

usage: faultproxy.py --upstream http://127.0.0.1:PORT [--port P]
                     [--port-file FILE] [--seed N] [--rules-file FILE]

Listens on 127.0.0.1 only and forwards only to a loopback upstream.  Runs
until killed, or until --max-seconds (default 3600) pass.

Control (same port, never forwarded):
  PUT  /_fault/rules   body {"rules": [RULE, ...]}: replaces the rules
  POST /_fault/clear   no rules: pure pass-through
  GET  /_fault/stats   {"requests": {op: n}, "injected": {action: n},
                        "rules": [...with "hits"], "partial_failed": n}
With --rules-file, the file (same JSON) is re-read whenever it changes.

A RULE is a JSON object:
  op        "PutRecords", "GetRecords", "UpdateItem", ... or "*" (default)
  match     optional substring the request body must contain
  action    throttle | error | reset | reset_after | slow | partial |
            condfail | corrupt | hide_shards | pass
  p         probability that a matching request is hit (default 1)
  count     at most this many hits, then the rule is spent (default: no cap)
  status    HTTP status for throttle/error (400 / 500)
  type      the __type for throttle/error (default: the service's
            throttling type; InternalFailure / InternalServerError for error)
  delay_ms  for slow: how long to hold the request
  after     for slow: 1 = forward first and hold the reply (the request is
            applied, the reply late), 0 = hold, then forward (default 0)
  fail_p    for partial: share of the PutRecords entries that fail
  codes     for partial: error codes to pick from (default
            ["ProvisionedThroughputExceededException", "InternalFailure"])
  shards    for hide_shards: the shard ids to leave out
  mode      for partial: "strip" (default; failed entries are not sent on,
            as with real Kinesis, where a failed entry is not stored) or
            "rewrite" (the whole request is applied and the reply lies:
            failed entries are in the stream, as after a lost reply)
The first rule whose op and match fit and whose dice roll hits decides.

Actions:
  throttle     400 ProvisionedThroughputExceededException (Kinesis) or
               400 ...#ProvisionedThroughputExceededException (DynamoDB);
               type ThrottlingException etc. for the others
  error        500 InternalFailure (Kinesis) / InternalServerError (DynamoDB)
  reset        the connection is reset (RST) before forwarding
  reset_after  the request is forwarded, then the connection reset: the
               call took effect but its reply is lost
  slow         delay_ms, before or after forwarding
  partial      PutRecords only: some entries come back with ErrorCode
  condfail     400 ConditionalCheckFailedException without forwarding
  corrupt      the request is forwarded and the reply comes back with one
               byte of its body changed and the x-amz-crc32 of the
               original (a body damaged in transit)
  hide_shards  ListShards only: the reply without the shards named in
               "shards", as after they expired from the stream (their
               retention period passed), which no emulator does
  pass         forward unchanged (to exempt requests from later rules)
"""
import argparse
import http.client
import json
import os
import random
import socket
import socketserver
import struct
import sys
import threading
import time
import urllib.parse
import zlib

KINESIS_PREFIX = "Kinesis_20131202."
DYNAMO_PREFIX = "DynamoDB_20120810."
DYNAMO_NS = "com.amazonaws.dynamodb.v20120810#"


class State:
    def __init__(self, seed):
        self.lock = threading.Lock()
        self.rules = []
        self.rnd = random.Random(seed)
        self.requests = {}
        self.injected = {}
        self.partial_failed = 0

    def set_rules(self, rules):
        for r in rules:
            if r.get("action") not in ("throttle", "error", "reset",
                                       "reset_after", "slow", "partial",
                                       "condfail", "corrupt",
                                       "hide_shards", "pass"):
                raise ValueError("unknown action %r" % r.get("action"))
            r["hits"] = 0
        with self.lock:
            self.rules = rules

    def pick(self, op, body):
        """The rule that hits this request, or None; counts it."""
        with self.lock:
            self.requests[op] = self.requests.get(op, 0) + 1
            for r in self.rules:
                if r.get("op", "*") not in ("*", op):
                    continue
                if "match" in r and r["match"].encode() not in body:
                    continue
                if "count" in r and r["hits"] >= r["count"]:
                    continue
                if self.rnd.random() >= float(r.get("p", 1.0)):
                    continue
                r["hits"] += 1
                a = r["action"]
                self.injected[a] = self.injected.get(a, 0) + 1
                return dict(r)
            return None

    def stats(self):
        with self.lock:
            return {"requests": dict(self.requests),
                    "injected": dict(self.injected),
                    "partial_failed": self.partial_failed,
                    "rules": [dict(r) for r in self.rules]}


class Reset(Exception):
    """Reset the client connection (RST), send nothing."""


def read_request(rfile):
    """(method, path, headers [(name, value)], body) or None at EOF."""
    line = rfile.readline(65537)
    if not line:
        return None
    parts = line.decode("latin-1").rstrip("\r\n").split(" ")
    if len(parts) != 3:
        raise ValueError("bad request line %r" % line)
    method, path, _ = parts
    headers = []
    while True:
        h = rfile.readline(65537)
        if not h:
            return None
        h = h.decode("latin-1").rstrip("\r\n")
        if not h:
            break
        name, _, value = h.partition(":")
        headers.append((name.strip(), value.strip()))
    hmap = {n.lower(): v for n, v in headers}
    if hmap.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int(rfile.readline().split(b";")[0], 16)
            if size == 0:
                while rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            body += rfile.read(size)
            rfile.readline()
        headers = [(n, v) for n, v in headers
                   if n.lower() != "transfer-encoding"]
        headers.append(("Content-Length", str(len(body))))
    else:
        body = rfile.read(int(hmap.get("content-length", "0")))
    return method, path, headers, body


def error_reply(service, status, type_, message):
    if service == "dynamodb":
        full = DYNAMO_NS + type_
        ctype = "application/x-amz-json-1.0"
    else:
        full = type_
        ctype = "application/x-amz-json-1.1"
    body = json.dumps({"__type": full, "message": message}).encode()
    return status, [("Content-Type", ctype), ("x-amzn-ErrorType", type_ + ":"),
                    ("x-amzn-RequestId", "faultproxy-%d" % random.getrandbits(32))], body


class Handler(socketserver.StreamRequestHandler):
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        self.upstream = None

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        if self.upstream is not None:
            self.upstream.close()

    def reset(self):
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def handle(self):
        try:
            while True:
                req = read_request(self.rfile)
                if req is None:
                    return
                method, path, headers, body = req
                if path.startswith("/_fault"):
                    self.control(method, path, body)
                    continue
                try:
                    status, rh, rb, *crc = self.serve(method, path, headers, body)
                except Reset:
                    self.reset()
                    return
                self.send(status, rh, rb, *crc)
        except (OSError, ValueError, http.client.HTTPException):
            return

    def send(self, status, headers, body, crc=None):
        out = ["HTTP/1.1 %d %s" % (status, http.client.responses.get(status, "X"))]
        for n, v in headers:
            if n.lower() in ("content-length", "transfer-encoding", "connection",
                             "x-amz-crc32"):
                continue
            out.append("%s: %s" % (n, v))
        out.append("Content-Length: %d" % len(body))
        if crc is None:
            crc = zlib.crc32(body) & 0xffffffff
        out.append("x-amz-crc32: %d" % crc)
        self.wfile.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + body)
        self.wfile.flush()

    def control(self, method, path, body):
        st = self.server.state
        try:
            if method == "PUT" and path == "/_fault/rules":
                st.set_rules(json.loads(body or b"{}").get("rules", []))
            elif method == "POST" and path == "/_fault/clear":
                st.set_rules([])
            elif method != "GET" or path != "/_fault/stats":
                raise ValueError("no such control request")
            self.send(200, [("Content-Type", "application/json")],
                      json.dumps(st.stats()).encode())
        except ValueError as e:
            self.send(400, [("Content-Type", "text/plain")], str(e).encode())

    def forward(self, method, path, headers, body):
        for attempt in (1, 2):
            if self.upstream is None:
                u = self.server.upstream
                self.upstream = http.client.HTTPConnection(u.hostname, u.port,
                                                           timeout=60)
            try:
                self.upstream.putrequest(method, path, skip_host=True,
                                         skip_accept_encoding=True)
                for n, v in headers:
                    if n.lower() not in ("content-length", "expect", "connection"):
                        self.upstream.putheader(n, v)
                self.upstream.putheader("Content-Length", str(len(body)))
                self.upstream.endheaders(body)
                r = self.upstream.getresponse()
                return r.status, r.getheaders(), r.read()
            except (OSError, http.client.HTTPException):
                # The emulator closed an idle keep-alive connection, or is
                # down: one fresh connection, then the client sees a reset
                # (as it would with the emulator itself).
                self.upstream.close()
                self.upstream = None
                if attempt == 2:
                    raise Reset()
        raise Reset()

    def serve(self, method, path, headers, body):
        target = ""
        for n, v in headers:
            if n.lower() == "x-amz-target":
                target = v
        if target.startswith(DYNAMO_PREFIX):
            service, op = "dynamodb", target[len(DYNAMO_PREFIX):]
        else:
            service, op = "kinesis", target[len(KINESIS_PREFIX):]
        rule = self.server.state.pick(op, body)
        a = rule["action"] if rule else "pass"
        if a == "throttle":
            default = ("ProvisionedThroughputExceededException"
                       if service == "dynamodb" or op in ("PutRecords", "PutRecord",
                                                         "GetRecords")
                       else "LimitExceededException")
            return error_reply(service, int(rule.get("status", 400)),
                               rule.get("type", default),
                               "Rate exceeded (injected by faultproxy)")
        if a == "error":
            default = ("InternalServerError" if service == "dynamodb"
                       else "InternalFailure")
            return error_reply(service, int(rule.get("status", 500)),
                               rule.get("type", default),
                               "injected by faultproxy")
        if a == "condfail":
            return error_reply(service, 400, "ConditionalCheckFailedException",
                               "The conditional request failed (injected by faultproxy)")
        if a == "reset":
            raise Reset()
        if a == "slow" and not rule.get("after"):
            time.sleep(float(rule.get("delay_ms", 1000)) / 1000)
        if a == "partial" and op == "PutRecords":
            return self.partial(rule, method, path, headers, body)
        status, rh, rb = self.forward(method, path, headers, body)
        if a == "reset_after":
            raise Reset()
        if a == "hide_shards" and op == "ListShards" and status == 200:
            reply = json.loads(rb)
            gone = set(rule.get("shards", []))
            reply["Shards"] = [x for x in reply.get("Shards", [])
                               if x.get("ShardId") not in gone]
            return status, rh, json.dumps(reply).encode()
        if a == "corrupt" and rb:
            crc = zlib.crc32(rb) & 0xffffffff
            i = self.server.state.rnd.randrange(len(rb))
            rb = rb[:i] + bytes([rb[i] ^ 0x20]) + rb[i + 1:]
            return status, rh, rb, crc
        if a == "slow" and rule.get("after"):
            time.sleep(float(rule.get("delay_ms", 1000)) / 1000)
        return status, rh, rb

    def partial(self, rule, method, path, headers, body):
        st = self.server.state
        req = json.loads(body)
        n = len(req.get("Records", []))
        with st.lock:
            fail = [st.rnd.random() < float(rule.get("fail_p", 0.3))
                    for _ in range(n)]
            codes = rule.get("codes", ["ProvisionedThroughputExceededException",
                                       "InternalFailure"])
            picked = [st.rnd.choice(codes) for _ in range(n)]
        strip = rule.get("mode", "strip") == "strip"
        if strip:
            keep = [r for r, f in zip(req["Records"], fail) if not f]
            if not keep:
                status, rh, up = 200, [("Content-Type", "application/x-amz-json-1.1")], \
                    {"FailedRecordCount": 0, "Records": []}
            else:
                sub = dict(req, Records=keep)
                status, rh, rb = self.forward(method, path, headers,
                                              json.dumps(sub).encode())
                if status != 200:
                    return status, rh, rb
                up = json.loads(rb)
        else:
            status, rh, rb = self.forward(method, path, headers, body)
            if status != 200:
                return status, rh, rb
            up = json.loads(rb)
        it = iter(up["Records"])
        out, failed = [], 0
        for i in range(n):
            real = next(it) if (not strip or not fail[i]) else None
            if fail[i]:
                failed += 1
                code = picked[i]
                msg = ("Rate exceeded for shard (injected by faultproxy)"
                       if code.startswith("Provisioned") else
                       "Internal service failure (injected by faultproxy)")
                out.append({"ErrorCode": code, "ErrorMessage": msg})
            else:
                out.append(real)
                if "ErrorCode" in real:
                    failed += 1
        with st.lock:
            st.partial_failed += sum(fail)
        res = dict(up, Records=out, FailedRecordCount=failed)
        return 200, [("Content-Type", "application/x-amz-json-1.1"),
                     ("x-amzn-RequestId", "faultproxy-partial")], json.dumps(res).encode()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def watch_file(path, state):
    mtime = None
    while True:
        try:
            m = os.stat(path).st_mtime_ns
            if m != mtime:
                mtime = m
                with open(path) as f:
                    state.set_rules(json.load(f).get("rules", []))
        except (OSError, ValueError) as e:
            print("faultproxy: rules file: %s" % e, file=sys.stderr)
        time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser(description="loopback fault-injecting AWS proxy (a fake)")
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rules-file")
    ap.add_argument("--max-seconds", type=float, default=3600)
    a = ap.parse_args()
    up = urllib.parse.urlsplit(a.upstream)
    if up.scheme != "http" or not (up.hostname or "").startswith("127."):
        sys.exit("faultproxy: the upstream must be http://127.x.x.x:PORT")
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.state = State(a.seed)
    srv.upstream = up
    if a.rules_file:
        threading.Thread(target=watch_file, args=(a.rules_file, srv.state),
                         daemon=True).start()
    port = srv.server_address[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.rename(a.port_file + ".tmp", a.port_file)
    threading.Timer(a.max_seconds, lambda: os._exit(0)).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
