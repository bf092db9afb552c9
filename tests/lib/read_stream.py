"""Read a whole stream back with boto3, independently of kinesisd.

usage: read_stream.py ENDPOINT STREAM  -> JSON on stdout:
  {"shards": [{"id", "start", "end"}],
   "records": [{"shard", "seq", "key", "data" (base64)}]}
Every shard is read from TRIM_HORIZON until GetRecords comes back empty.
"""
import base64
import json
import sys

import boto3

endpoint, stream = sys.argv[1], sys.argv[2]
k = boto3.client("kinesis", endpoint_url=endpoint)
shards = k.list_shards(StreamName=stream)["Shards"]
out = {"shards": [], "records": []}
for s in shards:
    out["shards"].append({"id": s["ShardId"],
                          "start": s["HashKeyRange"]["StartingHashKey"],
                          "end": s["HashKeyRange"]["EndingHashKey"]})
    it = k.get_shard_iterator(StreamName=stream, ShardId=s["ShardId"],
                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    while it:
        r = k.get_records(ShardIterator=it, Limit=10000)
        for rec in r["Records"]:
            out["records"].append({
                "shard": s["ShardId"], "seq": rec["SequenceNumber"],
                "key": rec["PartitionKey"],
                "data": base64.b64encode(rec["Data"]).decode()})
        if not r["Records"]:
            break
        it = r.get("NextShardIterator")
json.dump(out, sys.stdout)
