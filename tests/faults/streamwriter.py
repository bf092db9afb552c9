#!/usr/bin/python3
"""streamwriter.py -- keep writing plain records to a stream with boto3.

usage: streamwriter.py ENDPOINT STREAM OUT.json [--rate R] [--seconds S]
                       [--prefix P]

Puts about R records a second (PutRecords of up to 50) for S seconds,
straight to the emulator, retrying what it refuses, and writes
{"records": [{"key","data" (base64),"shard","seq","subseq":0}]} -- the
same form as kdrecords.py -- once done.
"""
import argparse
import base64
import json
import time

import boto3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("stream")
    ap.add_argument("out")
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--prefix", default="w")
    a = ap.parse_args()
    k = boto3.client("kinesis", endpoint_url=a.endpoint)
    out = []
    start = time.time()
    n = 0
    while time.time() - start < a.seconds:
        due = min(50, int((time.time() - start) * a.rate) - n)
        if due <= 0:
            time.sleep(0.02)
            continue
        todo = []
        for i in range(n, n + due):
            todo.append(("%s-%d" % (a.prefix, i), ("%s data %d" % (a.prefix, i)).encode()))
        n += due
        for _ in range(20):
            if not todo:
                break
            res = k.put_records(StreamName=a.stream, Records=[
                {"PartitionKey": key, "Data": data} for key, data in todo])
            again = []
            for (key, data), r in zip(todo, res["Records"]):
                if "SequenceNumber" in r:
                    out.append({"key": key, "data": base64.b64encode(data).decode(),
                                "shard": r["ShardId"], "seq": r["SequenceNumber"],
                                "subseq": 0})
                else:
                    again.append((key, data))
            todo = again
    with open(a.out, "w") as f:
        json.dump({"records": out}, f)


if __name__ == "__main__":
    main()
