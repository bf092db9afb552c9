#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<harness>/ (seed-* files).

Run from the top of the tree when a harness's input format changes; the
files it writes are committed.  Inputs that once crashed a harness live
beside them as regress-* files and are never rewritten here.
"""
import hashlib
import os

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
RS = b"\x1e"  # separates the pieces of one input (fuzz.h)


def write(harness, name, data):
    d = os.path.join(TOP, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- KPL aggregates ---------------------------------------------------------

def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, wire, payload):
    tag = varint(num << 3 | wire)
    if wire == 0:
        return tag + varint(payload)
    return tag + varint(len(payload)) + payload


def aggregate(pks, ehks, records):
    body = b"".join(field(1, 2, k) for k in pks)
    body += b"".join(field(2, 2, e) for e in ehks)
    for pk, ehk, data, tags in records:
        r = field(1, 0, pk)
        if ehk is not None:
            r += field(2, 0, ehk)
        r += field(3, 2, data)
        for k, v in tags:
            r += field(4, 2, field(1, 2, k) + field(2, 2, v))
        body += field(3, 2, r)
    return b"\xf3\x89\x9a\xc2" + body + hashlib.md5(body).digest()


write("fuzz_kpl", "two-records", aggregate([b"key"], [], [(0, None, b"hello", []), (0, None, b"", [])]))
write("fuzz_kpl", "ehk-and-tags", aggregate(
    [b"a", b"b"], [b"340282366920938463463374607431768211455", b"0"],
    [(0, 0, b"x" * 40, [(b"t", b"v")]), (1, 1, b"y", [])]))
write("fuzz_kpl", "empty-aggregate", aggregate([], [], []))
write("fuzz_kpl", "plain-record", b"just a plain Kinesis record")
bad = bytearray(aggregate([b"k"], [], [(0, None, b"d", [])]))
bad[-1] ^= 1
write("fuzz_kpl", "bad-md5", bytes(bad))
write("fuzz_kpl", "hash-key", b"170141183460469231731687303715884105728")

# ---- configuration ----------------------------------------------------------

write("fuzz_conf", "minimal", "application-name: app\nregion: eu-west-1\n")
write("fuzz_conf", "full", """application-name: SampleService
region: us-east-1
socket: /run/kinesisd/kinesisd.sock
socket-mode: "0660"
max-line-bytes: 2097152
max-connections: 64
partial-line-timeout-seconds: 30
max-unanswered-puts: 1000
allowed-uids: [0, root]
allowed-gids: []
http-listen: 127.0.0.1:9485
log: { level: debug, format: json }
endpoints:
  kinesis: http://127.0.0.1:4567
  dynamodb: http://127.0.0.1:4568
default-producer:
  max-outstanding-requests: 50000
  kpl: { AggregationEnabled: true, RecordMaxBufferedTime: 100 }
producers:
  some-producer:
    stream-name: sample-producer
    kpl: { RateLimit: 150, RecordTtl: 30000, ThreadingModel: POOLED }
consumers:
  some-consumer:
    stream-name: sample-consumer
    worker:  { batchTimeoutSeconds: 10, failedMessageRetries: 1,
               failureTolerancePercentage: 0.25, shutdownTimeoutSeconds: 25,
               gracefulShutdownHook: true }
    checkpointer: { backoffMillis: 3000, intervalMillis: 2000 }
    kcl: { initialPositionInStream: AT_TIMESTAMP,
           initialTimestamp: "2024-05-01T12:00:00.5+02:00",
           maxRecords: 10000, workerId: "host:1" }
""")
write("fuzz_conf", "anchors", """default-consumer: &d
  kcl: { maxRecords: 5 }
consumers:
  a: { stream-name: s, <<: *d }
  b: *d
""")
write("fuzz_conf", "typo", "producers:\n  p:\n    stream-name: s\n    kpl:\n      RateLimt: 10\n")
write("fuzz_conf", "quoting", 'application-name: "a \\"q\\" \\\\ \\t \\x01 é"\n')

# ---- the socket protocol ----------------------------------------------------

lines = [
    '{"op":"ping","id":1}',
    '{"op":"put","producer":"p","key":"k1","text":"hello","id":"a"}',
    '{"op":"put","producer":"q","key":"k2","data":"aGVsbG8=","ehk":"12345","id":2}',
    '{"op":"put","producer":"p","key":"ff","text":"fire and forget"}',
    '{"op":"flush","producer":"p","id":"f"}',
    '{"op":"flush","id":"all"}',
    '{"op":"echo","id":[1],"x":{"y":[1.5e300,-0,"\\u00e9\\ud83d\\ude00",null,true]}}',
    '{"op":"err","what":"quote \\" me","id":3}',
    '{"op":"hold","id":4}',
    '{"op":"hold","id":5}',
    '{"op":"bcast"}',
    '{"op":"nope","id":6}',
]
write("fuzz_ipc", "protocol", "\n".join(lines) + "\n")
write("fuzz_ipc", "garbage", b"not json {\n\xff\xfe\n[1,2]\n{\"id\":{}}\n\n   \n{\"op\":\"ping\"} x\n")
write("fuzz_ipc", "bad-puts", "\n".join([
    '{"op":"put","producer":"nope","key":"k","text":"x","id":1}',
    '{"op":"put","producer":"p","key":"","text":"x","id":2}',
    '{"op":"put","producer":"p","key":"k","data":"not base64!","id":3}',
    '{"op":"put","producer":"p","key":"k","text":"x","ehk":"-1","id":4}',
    '{"op":"put","producer":"p","key":5,"text":"x","id":5}',
    '{"op":"put","producer":"p","key":"k","text":"x","data":"eA==","id":6}',
    '{"op":"flush","producer":7,"id":7}',
]) + "\n")
write("fuzz_ipc", "too-long", "{\"op\":\"ping\",\"x\":\"" + "a" * 9000 + "\"}\n{\"op\":\"ping\"}\n")
write("fuzz_ipc", "deep", "[" * 3000 + "\n" + '{"a":' * 1100 + "\n")
write("fuzz_ipc", "partial", '{"op":"ping","id":1}\n{"op":"pi')

# ---- one request line, for the scanner (fuzz_req) ---------------------------

for name, line in [
    ("put", '{"op":"put","id":7,"producer":"p","key":"k","data":"aGVsbG8="}'),
    ("ack", '{"op":"ack","consumer":"c","shard":"shardId-000000000001",'
            '"seq":"4959","subseq":3,"ok":false}'),
    ("escapes", r'{"op":"put","key":"\u00e9\ud83d\ude00\n\"\\\/","text":"a\tb"}'),
    ("nested", '{"op":"x","a":{"b":[1,2,{"c":null}]},"n":-1.5e+3,"t":true}'),
    ("numbers", '{"a":0,"b":-0,"c":7.0,"d":7e0,"e":9007199254740993,"f":1e400}'),
    ("dup", '{"op":"a","op":"b","id":"x"}'),
    ("nul", r'{"op":"put","text":"a\u0000b"}'),
    ("not-object", '[1,"two",{"three":3}]'),
    ("bad", '{"op":"put",}'),
    ("surrogate", r'{"k":"\ud800"}'),
]:
    write("fuzz_req", name, line)

# ---- Kinesis replies: op, status, records, then bodies -----------------------

SHARD = ('{"ShardId":"shardId-000000000000","ParentShardId":"p",'
         '"HashKeyRange":{"StartingHashKey":"0","EndingHashKey":"9"},'
         '"SequenceNumberRange":{"StartingSequenceNumber":"1"}}')
write("fuzz_kinesis", "list-shards-pages", b"\x00\x00\x00" + (
    '{"Shards":[%s],"NextToken":"T"}' % SHARD).encode() + RS + (
    '{"Shards":[%s]}' % SHARD).encode())
write("fuzz_kinesis", "summary", b"\x01\x00\x00" + b'{"StreamDescriptionSummary":'
      b'{"StreamName":"s","StreamStatus":"ACTIVE","StreamModeDetails":'
      b'{"StreamMode":"ON_DEMAND"},"StreamCreationTimestamp":1.7e9,'
      b'"RetentionPeriodHours":24,"OpenShardCount":2,"ConsumerCount":0}}')
write("fuzz_kinesis", "put-records", b"\x02\x00\x01" + b'{"FailedRecordCount":1,'
      b'"Records":[{"SequenceNumber":"9","ShardId":"s0"},{"ErrorCode":'
      b'"ProvisionedThroughputExceededException","ErrorMessage":"slow"}]}')
write("fuzz_kinesis", "iterator", b"\x03\x00\x00" + b'{"ShardIterator":"AAAA"}')
write("fuzz_kinesis", "get-records", b"\x04\x00\x00" + b'{"Records":[{"SequenceNumber":'
      b'"1","PartitionKey":"k","Data":"aGVsbG8=","ApproximateArrivalTimestamp":'
      b'1700000000.123}],"NextShardIterator":null,"MillisBehindLatest":0,'
      b'"ChildShards":[{"ShardId":"c","ParentShards":["p","q"],"HashKeyRange":'
      b'{"StartingHashKey":"0","EndingHashKey":"5"}}]}')
write("fuzz_kinesis", "error", b"\x04\x05\x00" + b'{"__type":"com.amazon.coral.service#'
      b'ExpiredIteratorException","message":"Iterator expired"}')
write("fuzz_kinesis", "not-json", b"\x01\x00\x00<html>502 Bad Gateway</html>")

# ---- DynamoDB replies: op, status, then bodies -------------------------------

write("fuzz_dynamo", "describe", b"\x00\x00" + b'{"Table":{"TableName":"t",'
      b'"TableStatus":"ACTIVE","KeySchema":[{"AttributeName":"leaseKey",'
      b'"KeyType":"HASH"}],"BillingModeSummary":{"BillingMode":'
      b'"PAY_PER_REQUEST"},"ItemCount":3,"ProvisionedThroughput":'
      b'{"ReadCapacityUnits":0,"WriteCapacityUnits":0}}}')
write("fuzz_dynamo", "create", b"\x01\x00" + b'{"TableDescription":{"TableName":"t",'
      b'"TableStatus":"CREATING"}}')
write("fuzz_dynamo", "get-item", b"\x02\x00" + b'{"Item":{"leaseKey":{"S":"s"},'
      b'"leaseCounter":{"N":"4"},"parentShardId":{"SS":["a","b"]}}}')
write("fuzz_dynamo", "update-all-new", b"\x04\x20" + b'{"Attributes":{"leaseCounter":'
      b'{"N":"5"}}}')
write("fuzz_dynamo", "scan-pages", b"\x06\x00" + b'{"Items":[{"leaseKey":{"S":"a"}}],'
      b'"LastEvaluatedKey":{"leaseKey":{"S":"a"}}}' + RS + b'{"Items":[],"Count":0}')
write("fuzz_dynamo", "condition-failed", b"\x03\x0d" + b'{"__type":'
      b'"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",'
      b'"message":"The conditional request failed"}')

# ---- credentials: STS, container, IMDS role, IMDS creds ---------------------

EXP = "2099-01-01T00:00:00Z"
sts = ("<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult>"
       "<AssumedRoleUser><AssumedRoleId>AROA:fuzz</AssumedRoleId>"
       "</AssumedRoleUser><Credentials><AccessKeyId>ASIASTS</AccessKeyId>"
       "<SecretAccessKey>sts-secret&amp;x</SecretAccessKey><SessionToken>"
       "sts-token</SessionToken><Expiration>%s</Expiration></Credentials>"
       "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"
       % EXP).encode()
cont = ('{"AccessKeyId":"ASIACONT","SecretAccessKey":"c-secret","Token":"c-token",'
        '"Expiration":"%s"}' % EXP).encode()
imds = ('{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"ASIAIMDS",'
        '"SecretAccessKey":"i-secret","Token":"i-token","Expiration":"%s"}'
        % EXP).encode()
err_xml = (b"<ErrorResponse><Error><Code>AccessDenied</Code><Message>"
           b"Not authorized</Message></Error></ErrorResponse>")
write("fuzz_creds", "sts-ok", b"\x00" + sts + RS + b"\x03" + RS + b"\x03" + RS + b"\x03")
write("fuzz_creds", "container-ok", b"\x05" + err_xml + RS + b"\x00" + cont + RS + b"\x03" + RS + b"\x03")
write("fuzz_creds", "imds-ok", b"\x04" + RS + b"\x04{}" + RS + b"\x00fuzz-role\n" + RS + b"\x00" + imds)
assume = sts.replace(b"AssumeRoleWithWebIdentity", b"AssumeRole")
proc = ('{"Version": 1, "AccessKeyId": "AKIDPROC", "SecretAccessKey": '
        '"p-secret", "SessionToken": "p-token", "Expiration": "%s"}'
        % EXP).encode()
write("fuzz_creds", "assume-role-ok",
      b"\x05" + err_xml + RS + b"\x03" + RS + b"\x03" + RS + b"\x03" + RS
      + b"\x00" + assume)
write("fuzz_creds", "assume-role-process",
      b"\x05" + err_xml + RS + b"\x03" + RS + b"\x03" + RS + b"\x03" + RS
      + b"\x00" + assume + RS + proc)
write("fuzz_creds", "process-garbage",
      b"\x05" + RS + b"\x03" + RS + b"\x03" + RS + b"\x03" + RS
      + b"\x00" + assume + RS + b'{"Version": 1, "AccessKeyId": 5}')
write("fuzz_creds", "all-fail", b"\x00<Credentials>" + RS + b'\x00{"code":"x","message":"no"}'
      + RS + b"\x00bad/role" + RS + b'\x00{"Code":"Failure"}')
