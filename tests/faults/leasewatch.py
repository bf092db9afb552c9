#!/usr/bin/python3
"""leasewatch.py -- watch a KCL lease table from outside, with boto3.

usage: leasewatch.py DYNAMO_URL TABLE OUT [--seconds S] [--every MS] [--once]

Scans TABLE (straight from dynalite, not through any proxy) every MS ms
(default 100) for S seconds (default 300), or once with --once, and
appends to OUT one JSON line per scan whose result changed:
{"t": time the scan returned, "leases": {shard: [checkpoint, subseq,
owner, counter]}}.  A missing table is not an error (not created yet).
"""
import argparse
import json
import time

import boto3


def scan(d, table):
    out = {}
    kw = {"TableName": table, "ConsistentRead": True}
    while True:
        r = d.scan(**kw)
        for it in r["Items"]:
            out[it["leaseKey"]["S"]] = [
                it.get("checkpoint", {}).get("S"),
                int(it.get("checkpointSubSequenceNumber", {}).get("N", "0")),
                it.get("leaseOwner", {}).get("S"),
                int(it.get("leaseCounter", {}).get("N", "0"))]
        if "LastEvaluatedKey" not in r:
            return out
        kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("table")
    ap.add_argument("out")
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--every", type=float, default=100)
    ap.add_argument("--once", action="store_true")
    a = ap.parse_args()
    d = boto3.client("dynamodb", endpoint_url=a.url)
    end = time.time() + a.seconds
    prev = None
    with open(a.out, "a") as f:
        while time.time() < end:
            try:
                cur = scan(d, a.table)
            except d.exceptions.ResourceNotFoundException:
                cur = None
            if cur is not None and cur != prev:
                f.write(json.dumps({"t": time.time(), "leases": cur}) + "\n")
                f.flush()
                prev = cur
            if a.once:
                break
            time.sleep(a.every / 1000)


if __name__ == "__main__":
    main()
