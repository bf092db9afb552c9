#!/usr/bin/python3
"""fakekinesis.py -- a FAKE Kinesis for benchmarks.  Not AWS, not an emulator.

A tiny loopback HTTP server that answers just enough of the Kinesis API,
with synthetic results, that a benchmark measures the client's own cost
and not kinesalite's (which stores every record and is far slower than
the clients under test).  Nothing is stored:

  PutRecords, PutRecord  every entry succeeds: ShardId is the shard its
                         ExplicitHashKey / MD5(PartitionKey) falls in (so
                         kinesisd sees its prediction confirmed), the
                         SequenceNumber a counter
  ListShards, DescribeStreamSummary, DescribeStream
                         SHARDS open shards splitting the hash range evenly
  GetShardIterator, GetRecords
                         each shard holds AGGS records, each a KPL aggregate
                         of PER_AGG user records of RECORD_BYTES bytes (one
                         aggregate built per shard with a partition key that
                         hashes into that shard, repeated with increasing
                         sequence numbers); GetRecords hands out up to
                         BATCH of them, then nothing (MillisBehindLatest 0)

usage: fakekinesis.py [--port P] [--port-file F] [--shards N] [--aggs N]
                      [--per-agg N] [--record-bytes N] [--batch N]
                      [--max-seconds S]
Listens on 127.0.0.1 only; exits after --max-seconds (default 1800).
GET /stats returns {"put_requests", "put_records", "get_records_calls",
"records_served"}.
"""
import argparse
import hashlib
import json
import os
import socket
import socketserver
import sys
import threading
import time
import base64

TOP = 1 << 128


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, wire, payload):
    key = varint((num << 3) | wire)
    if wire == 2:
        return key + varint(len(payload)) + payload
    return key + varint(payload)


def aggregate(keys, datas):
    """A KPL aggregate: magic, AggregatedRecord protobuf, MD5 of it."""
    pb = b"".join(field(1, 2, k.encode()) for k in keys)
    for d in datas:
        rec = field(1, 0, 0) + field(3, 2, d)
        pb += field(3, 2, rec)
    return b"\xf3\x89\x9a\xc2" + pb + hashlib.md5(pb).digest()


class Stream:
    def __init__(self, a):
        self.a = a
        n = a.shards
        self.shards = []
        for i in range(n):
            lo = TOP * i // n
            hi = TOP * (i + 1) // n - 1
            self.shards.append(("shardId-%012d" % i, lo, hi))
        self.lock = threading.Lock()
        self.seq = 0
        self.stats = {"put_requests": 0, "put_records": 0,
                      "get_records_calls": 0, "records_served": 0}
        self.frag = []  # per shard: the JSON of its one aggregate, seq to fill
        if a.aggs:
            payload = bytes((i * 7) & 0xFF for i in range(a.record_bytes))
            for i, (sid, lo, hi) in enumerate(self.shards):
                key = self.key_in(lo, hi, i)
                blob = aggregate([key], [payload] * a.per_agg)
                self.frag.append('{"SequenceNumber":"%%s","ApproximateArrivalTimestamp":%.3f,'
                                 '"Data":"%s","PartitionKey":"%s"}'
                                 % (time.time(), base64.b64encode(blob).decode(), key))

    def key_in(self, lo, hi, i):
        n = 0
        while True:
            k = "bench-%d-%d" % (i, n)
            h = int.from_bytes(hashlib.md5(k.encode()).digest(), "big")
            if lo <= h <= hi:
                return k
            n += 1

    def shard_of(self, h):
        return self.shards[h * len(self.shards) // TOP][0]

    def seqno(self, shard, pos):
        return "49%03d%051d" % (shard, pos)


def reply(status, body, ctype="application/x-amz-json-1.1"):
    if isinstance(body, str):
        body = body.encode()
    return status, ctype, body


class Handler(socketserver.StreamRequestHandler):
    disable_nagle_algorithm = True
    rbufsize = 1 << 20

    def handle(self):
        st = self.server.stream
        try:
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    return
                method, path, _ = line.decode("latin-1").split(" ", 2)
                clen, target = 0, ""
                while True:
                    h = self.rfile.readline(65537)
                    if h in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = h.decode("latin-1").partition(":")
                    name = name.strip().lower()
                    if name == "content-length":
                        clen = int(value)
                    elif name == "x-amz-target":
                        target = value.strip().split(".", 1)[-1]
                body = self.rfile.read(clen) if clen else b""
                if path == "/stats":
                    status, ctype, out = reply(200, json.dumps(st.stats), "application/json")
                else:
                    status, ctype, out = self.serve(st, target, body)
                self.wfile.write(("HTTP/1.1 %d X\r\nContent-Type: %s\r\n"
                                  "x-amzn-RequestId: fake\r\nContent-Length: %d\r\n\r\n"
                                  % (status, ctype, len(out))).encode() + out)
                self.wfile.flush()
        except (OSError, ValueError):
            return

    def serve(self, st, op, body):
        if op == "PutRecords":
            return self.put_records(st, body)
        req = json.loads(body or b"{}")
        if op == "PutRecord":
            if "ExplicitHashKey" in req:
                h = int(req["ExplicitHashKey"])
            else:
                h = int.from_bytes(hashlib.md5(req["PartitionKey"].encode()).digest(), "big")
            with st.lock:
                st.seq += 1
                seq = st.seq
                st.stats["put_requests"] += 1
                st.stats["put_records"] += 1
            return reply(200, '{"SequenceNumber":"%s","ShardId":"%s"}'
                         % ("49%054d" % seq, st.shard_of(h)))
        if op == "ListShards":
            return reply(200, json.dumps({"Shards": [
                {"ShardId": sid,
                 "HashKeyRange": {"StartingHashKey": str(lo), "EndingHashKey": str(hi)},
                 "SequenceNumberRange": {"StartingSequenceNumber": st.seqno(i, 0)}}
                for i, (sid, lo, hi) in enumerate(st.shards)]}))
        if op == "DescribeStreamSummary":
            name = req.get("StreamName", "bench")
            return reply(200, json.dumps({"StreamDescriptionSummary": {
                "StreamName": name, "StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/" + name,
                "StreamStatus": "ACTIVE", "StreamModeDetails": {"StreamMode": "PROVISIONED"},
                "RetentionPeriodHours": 24, "StreamCreationTimestamp": 1.7e9,
                "EncryptionType": "NONE", "OpenShardCount": len(st.shards),
                "ConsumerCount": 0, "EnhancedMonitoring": [{"ShardLevelMetrics": []}]}}))
        if op == "GetShardIterator":
            i = int(req["ShardId"].rsplit("-", 1)[1])
            t = req["ShardIteratorType"]
            if t == "TRIM_HORIZON":
                p = 0
            elif t == "LATEST":
                p = st.a.aggs
            else:
                p = int(req["StartingSequenceNumber"][5:]) + (t == "AFTER_SEQUENCE_NUMBER")
            return reply(200, json.dumps({"ShardIterator": "it-%d-%d" % (i, p)}))
        if op == "GetRecords":
            _, i, p = req["ShardIterator"].split("-")
            i, p = int(i), int(p)
            n = max(0, min(st.a.batch, int(req.get("Limit", 10000)), st.a.aggs - p))
            recs = ",".join(st.frag[i] % st.seqno(i, q) for q in range(p, p + n))
            with st.lock:
                st.stats["get_records_calls"] += 1
                st.stats["records_served"] += n * st.a.per_agg
            return reply(200, '{"Records":[%s],"NextShardIterator":"it-%d-%d","MillisBehindLatest":%d}'
                         % (recs, i, p + n, 0 if p + n >= st.a.aggs else 1000))
        return reply(400, json.dumps({"__type": "UnknownOperationException",
                                      "message": "fakekinesis does not do %s" % op}))

    def put_records(self, st, body):
        req = json.loads(body)
        out = []
        with st.lock:
            base = st.seq
            st.seq += len(req["Records"])
            st.stats["put_requests"] += 1
            st.stats["put_records"] += len(req["Records"])
        for n, r in enumerate(req["Records"]):
            if "ExplicitHashKey" in r:
                h = int(r["ExplicitHashKey"])
            else:
                h = int.from_bytes(hashlib.md5(r["PartitionKey"].encode()).digest(), "big")
            out.append('{"SequenceNumber":"%s","ShardId":"%s"}'
                       % ("49%054d" % (base + n), st.shard_of(h)))
        return reply(200, '{"FailedRecordCount":0,"Records":[%s]}' % ",".join(out))


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def main():
    ap = argparse.ArgumentParser(description="a fake Kinesis for benchmarks")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--aggs", type=int, default=0)
    ap.add_argument("--per-agg", type=int, default=400)
    ap.add_argument("--record-bytes", type=int, default=100)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--max-seconds", type=float, default=1800)
    a = ap.parse_args()
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.stream = Stream(a)
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(a.port_file + ".tmp", a.port_file)
    threading.Timer(a.max_seconds, lambda: os._exit(0)).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
