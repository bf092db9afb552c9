"""Write test records to a stream with boto3, plain and KPL-aggregated.

usage: kdrecords.py ENDPOINT STREAM [--plain N] [--agg N] [--per-agg K]
                    [--prefix P] [--ehk-every E] > expected.json

Plain records: key "<P>p<i>", data "<P>plain-<i>".  Aggregated user records:
key "<P>a<i>", data "<P>agg-<i>", packed K to an aggregate by aws-kinesis-agg
(tests/kpl_agg_peer.js, the reference codec); every E-th one carries an
explicit hash key.  Prints JSON: {"records": [{"key", "data" (base64),
"ehk"?, "shard", "seq", "subseq"}]} in put order, with where Kinesis put
each one (subseq: the index inside its aggregate, 0 for plain records).
"""
import argparse
import base64
import json
import os
import subprocess
import sys

import boto3

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def put_all(k, stream, entries):
    """entries: (PartitionKey, data bytes, ehk or None); returns results
    [(shard, seq)] in order, retrying what Kinesis refused."""
    out = [None] * len(entries)
    todo = list(range(len(entries)))
    while todo:
        batch, todo = todo[:500], todo[500:]
        req = []
        for i in batch:
            key, data, ehk = entries[i]
            r = {"PartitionKey": key, "Data": data}
            if ehk is not None:
                r["ExplicitHashKey"] = ehk
            req.append(r)
        res = k.put_records(StreamName=stream, Records=req)
        again = []
        for i, r in zip(batch, res["Records"]):
            if "SequenceNumber" in r:
                out[i] = (r["ShardId"], r["SequenceNumber"])
            else:
                again.append(i)
        todo = again + todo
    return out


def aggregate(users):
    """users: [{"key","data"(b64),"ehk"?}] -> aggregates as aws-kinesis-agg
    makes them: [{"key","data"(b64),"ehk"?}]."""
    p = subprocess.run(["node", os.path.join(TOP, "tests", "kpl_agg_peer.js"),
                        "aggregate"], input=json.dumps({"records": users}),
                       capture_output=True, text=True, check=True)
    return json.loads(p.stdout)["aggregates"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("stream")
    ap.add_argument("--plain", type=int, default=0)
    ap.add_argument("--agg", type=int, default=0)
    ap.add_argument("--per-agg", type=int, default=100)
    ap.add_argument("--prefix", default="")
    ap.add_argument("--ehk-every", type=int, default=0)
    a = ap.parse_args()
    k = boto3.client("kinesis", endpoint_url=a.endpoint)
    records = []

    entries = []
    for i in range(a.plain):
        key = "%sp%d" % (a.prefix, i)
        data = ("%splain-%d" % (a.prefix, i)).encode()
        entries.append((key, data, None))
    for (key, data, _), (shard, seq) in zip(entries, put_all(k, a.stream, entries)):
        records.append({"key": key, "data": base64.b64encode(data).decode(),
                        "shard": shard, "seq": seq, "subseq": 0})

    groups = []
    for start in range(0, a.agg, a.per_agg):
        users = []
        for i in range(start, min(start + a.per_agg, a.agg)):
            u = {"key": "%sa%d" % (a.prefix, i),
                 "data": base64.b64encode(("%sagg-%d" % (a.prefix, i)).encode()).decode()}
            if a.ehk_every and i % a.ehk_every == 0:
                # Increasing: aws-kinesis-agg reorders integer-like keys.
                u["ehk"] = str(1000000 + i)
            users.append(u)
        aggs = aggregate(users)
        if len(aggs) != 1:
            sys.exit("kdrecords: aws-kinesis-agg made %d aggregates of %d records"
                     % (len(aggs), len(users)))
        groups.append((users, aggs[0]))
    entries = [(g["key"], base64.b64decode(g["data"]), g.get("ehk")) for _, g in groups]
    for (users, _), (shard, seq) in zip(groups, put_all(k, a.stream, entries)):
        for idx, u in enumerate(users):
            r = dict(u)
            r.update(shard=shard, seq=seq, subseq=idx)
            records.append(r)
    json.dump({"records": records}, sys.stdout)


if __name__ == "__main__":
    main()
