#!/usr/bin/python3
"""Writes tests/fixtures/sigv4/*.json: SigV4 vectors computed by botocore.

Each fixture is one Kinesis or DynamoDB JSON POST request, signed by
botocore.auth.SigV4Auth with fixed credentials at a frozen time.
tests/unit/test_sigv4.c signs the same request with aws/sigv4.c and must
get the same canonical request, string to sign and Authorization header.

Run it with Debian's interpreter, which has python3-botocore:

    /usr/bin/python3 tests/gen_sigv4_fixtures.py

The output is deterministic; the fixtures are committed, so the unit tests
need neither Python nor botocore.  Rerun it only to add or change a case.
(botocore 1.29.27 and 1.43.11 write the same fixtures, but for the
"generator" field.)
"""

import contextlib
import datetime
import hashlib
import json
import os
import sys
import types
from unittest import mock
from urllib.parse import urlsplit

try:
    import botocore
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:
    sys.exit('gen_sigv4_fixtures: no botocore here; run it with '
             '/usr/bin/python3 (Debian python3-botocore)')

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       'fixtures', 'sigv4')

# Made-up keys in the shape of real ones; the token is long, like STS's.
ACCESS_KEY = 'AKIAKINESISDEXAMPLE1'
SECRET_KEY = 'kinesisd/Test+Secret/Key0123456789EXAMPLE'
TEMP_ACCESS_KEY = 'ASIAKINESISDEXAMPLE2'
TEMP_SECRET_KEY = 'kinesisd/Temporary+Secret/KeyEXAMPLE98765'
SESSION_TOKEN = (
    'IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQDkinesisd'
    'TestSessionTokenEXAMPLE+aGVsbG8gZnJvbSBraW5lc2lzZCB0ZXN0cw==/abcdef'
    'ghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/EXAMPLE==')

KINESIS = {
    'service': 'kinesis',
    'region': 'us-east-1',
    'content_type': 'application/x-amz-json-1.1',
    'target_prefix': 'Kinesis_20131202',
    'endpoints': {
        'aws': 'https://kinesis.us-east-1.amazonaws.com/',
        'local': 'http://127.0.0.1:4567',
    },
}
DYNAMODB = {
    'service': 'dynamodb',
    'region': 'eu-west-1',
    'content_type': 'application/x-amz-json-1.0',
    'target_prefix': 'DynamoDB_20120810',
    'endpoints': {'aws': 'https://dynamodb.eu-west-1.amazonaws.com/'},
}

# (api, operation, body, UTC time).  Times vary so that date formatting and
# the credential scope's date are exercised: a leap day, a year's last
# second, midnight.
REQUESTS = [
    (KINESIS, 'PutRecords', {
        'StreamName': 'orders',
        'Records': [
            {'Data': 'eyJvcmRlciI6IDEsICJpdGVtIjogImNhZsOpIn0=',
             'PartitionKey': 'customer-42'},
            {'Data': 'AAECAwQFBgcICQ==', 'PartitionKey': 'clé-ünïcode',
             'ExplicitHashKey': '170141183460469231731687303715884105728'},
        ],
    }, datetime.datetime(2024, 2, 29, 13, 37, 42)),
    (KINESIS, 'ListShards', {
        'StreamName': 'orders',
        'MaxResults': 100,
        'ShardFilter': {'Type': 'AT_LATEST'},
    }, datetime.datetime(2023, 12, 31, 23, 59, 59)),
    (KINESIS, 'GetRecords', {
        'ShardIterator': 'AAAAAAAAAAGs3zj0iZ3BNxUZcVJcWtrX7sPTvbmsKb1ZxYtnL'
                         'ljrV1pWc2Gx+EXAMPLE/shard-iterator==',
        'Limit': 1000,
    }, datetime.datetime(2025, 1, 1, 0, 0, 0)),
    (DYNAMODB, 'GetItem', {
        'TableName': 'kinesisd-leases',
        'Key': {'leaseKey': {'S': 'shardId-000000000001'}},
        'ConsistentRead': True,
    }, datetime.datetime(2024, 6, 15, 8, 5, 9)),
    (DYNAMODB, 'UpdateItem', {
        'TableName': 'kinesisd-leases',
        'Key': {'leaseKey': {'S': 'shardId-000000000001'}},
        'UpdateExpression': 'SET checkpoint = :cp, leaseCounter = '
                            'leaseCounter + :one',
        'ConditionExpression': 'leaseOwner = :me AND leaseCounter = :n',
        'ExpressionAttributeValues': {
            ':cp': {'S': '4959033827149025660855969253836157109592157598'
                          '9136588898'},
            ':one': {'N': '1'},
            ':me': {'S': 'worker-a'},
            ':n': {'N': '17'},
        },
    }, datetime.datetime(2024, 6, 15, 23, 59, 59)),
]


class FrozenDatetime(datetime.datetime):
    """datetime.datetime whose clock is stopped at FrozenDatetime.frozen."""

    frozen = None

    @classmethod
    def utcnow(cls):
        return cls.frozen

    @classmethod
    def now(cls, tz=None):
        return cls.frozen if tz is None else cls.frozen.replace(tzinfo=tz)


def frozen_time(when):
    """Stops botocore.auth's clock at when, and no one else's.  Older
    botocore (Debian's 1.29) calls datetime.datetime.utcnow(); newer
    releases call botocore.compat.get_current_datetime(), imported into
    botocore.auth.  Both are patched where they exist; sign() checks that
    the freeze took."""
    FrozenDatetime.frozen = when
    fake = types.SimpleNamespace(**vars(datetime))
    fake.datetime = FrozenDatetime
    stack = contextlib.ExitStack()
    stack.enter_context(mock.patch.object(botocore.auth, 'datetime', fake))
    if hasattr(botocore.auth, 'get_current_datetime'):
        stack.enter_context(mock.patch.object(
            botocore.auth, 'get_current_datetime',
            lambda remove_tzinfo=True: when if remove_tzinfo else
            when.replace(tzinfo=datetime.timezone.utc)))
    return stack


class RecordingSigV4Auth(botocore.auth.SigV4Auth):
    """SigV4Auth that keeps what add_auth computed on the way: recomputing
    afterwards would see the Authorization header it has just added."""

    def canonical_request(self, request):
        self.recorded_headers = self.headers_to_sign(request)
        self.recorded_creq = super().canonical_request(request)
        return self.recorded_creq

    def string_to_sign(self, request, canonical_request):
        self.recorded_sts = super().string_to_sign(request, canonical_request)
        return self.recorded_sts


def sign(api, endpoint, operation, body, when, temporary):
    url = api['endpoints'][endpoint]
    data = json.dumps(body, ensure_ascii=False,
                      separators=(',', ':')).encode('utf-8')
    headers = {
        'Content-Type': api['content_type'],
        'X-Amz-Target': '%s.%s' % (api['target_prefix'], operation),
        # Sent by every SDK, never signed (botocore's blacklist): the
        # fixture shows the caller must leave it out of the signed headers.
        'User-Agent': 'kinesisd-fixture/1.0',
    }
    if temporary:
        creds = Credentials(TEMP_ACCESS_KEY, TEMP_SECRET_KEY, SESSION_TOKEN)
    else:
        creds = Credentials(ACCESS_KEY, SECRET_KEY)

    request = AWSRequest(method='POST', url=url, data=data, headers=headers)
    auth = RecordingSigV4Auth(creds, api['service'], api['region'])
    with frozen_time(when):
        auth.add_auth(request)
    if request.context['timestamp'] != when.strftime('%Y%m%dT%H%M%SZ'):
        sys.exit('gen_sigv4_fixtures: botocore %s signed at %s, not at the '
                 'frozen %s: teach frozen_time() its clock' %
                 (botocore.__version__, request.context['timestamp'], when))
    return request, auth, creds


def signed_header_list(request, auth):
    """The headers botocore signed, in request order, with their original
    names; host is not in the request (the HTTP client adds it), so it is
    appended as botocore derived it from the URL."""
    signed = auth.recorded_headers
    out = [[name, value] for name, value in request.headers.items()
           if name.lower() in signed]
    if 'host' not in {name.lower() for name, _ in out}:
        out.append(['Host', signed['host']])
    assert {n.lower() for n, _ in out} == set(signed), 'header mismatch'
    return out


def fixture(api, endpoint, operation, body, when, temporary):
    request, auth, creds = sign(api, endpoint, operation, body, when,
                                temporary)
    signed = signed_header_list(request, auth)
    unsigned = [[n, v] for n, v in request.headers.items()
                if [n, v] not in signed and n != 'Authorization']
    assert request.headers['Authorization'].split('SignedHeaders=')[1] \
        .split(',')[0] == ';'.join(sorted(n.lower() for n, _ in signed))
    parts = urlsplit(request.url)
    name = '%s-%s-%s-%s' % (api['service'], operation.lower(), endpoint,
                            'session-token' if temporary else 'long-term')
    epoch = int(when.replace(tzinfo=datetime.timezone.utc).timestamp())
    return name, {
        'name': name,
        'generator': 'botocore %s botocore.auth.SigV4Auth' %
                     botocore.__version__,
        'url': request.url,
        'method': request.method,
        # As sent: urllib3 sends "/" for an empty path.
        'path': parts.path or '/',
        'query': parts.query,
        'region': api['region'],
        'service': api['service'],
        'time': epoch,
        'amz_date': request.context['timestamp'],
        'credentials': {
            'access_key_id': creds.access_key,
            'secret_access_key': creds.secret_key,
            'session_token': creds.token,
        },
        'signed_headers': signed,
        'unsigned_headers': unsigned,
        'body': request.body.decode('utf-8'),
        'body_sha256': hashlib.sha256(request.body).hexdigest(),
        'canonical_request': auth.recorded_creq,
        'string_to_sign': auth.recorded_sts,
        'authorization': request.headers['Authorization'],
    }


def edge_fixture():
    """Not a Kinesis call: a path with dot segments, doubled slashes and an
    escape, and an encoded query, to pin the canonical URI (encoded twice
    for non-S3 services) and query ordering to botocore's."""
    api = dict(KINESIS, endpoints={
        'edge': 'https://kinesis.us-east-1.amazonaws.com'
                '/a/./b//c/../d%20e/?b=2&a=%2F&A=1&a=0&z=',
    })
    name, fx = fixture(api, 'edge', 'ListShards', {}, datetime.datetime(
        2024, 3, 1, 12, 34, 56), False)
    name = 'kinesis-edge-path-query'
    fx['name'] = name
    return name, fx


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    fixtures = []
    for api, operation, body, when in REQUESTS:
        for endpoint in api['endpoints']:
            for temporary in (False, True):
                fixtures.append(fixture(api, endpoint, operation, body, when,
                                        temporary))
    fixtures.append(edge_fixture())

    wanted = set()
    for name, fx in fixtures:
        path = os.path.join(OUT_DIR, name + '.json')
        wanted.add(os.path.basename(path))
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(fx, f, indent=2, ensure_ascii=False)
            f.write('\n')
    # A case dropped from the lists above must not linger as a stale file.
    for stale in set(os.listdir(OUT_DIR)) - wanted:
        if stale.endswith('.json'):
            os.unlink(os.path.join(OUT_DIR, stale))
    print('wrote %d fixtures to %s' % (len(fixtures), OUT_DIR),
          file=sys.stderr)


if __name__ == '__main__':
    main()
