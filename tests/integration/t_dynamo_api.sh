#!/bin/sh
# dynamo/ against dynalite, through tests/tools/kdaws, cross-checked with
# the AWS CLI: DescribeTable (missing, then ACTIVE), CreateTable (on-demand
# and provisioned, and again: in use), GetItem, PutItem / UpdateItem /
# DeleteItem with conditions (a failed condition is its own error), and
# Scan across pages.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/kdaws.sh"

start_dynalite
TB=kd-leases

# --- DescribeTable / CreateTable
kdaws_err nf dynamodb DescribeTable "{\"TableName\":\"$TB\"}"
expect nf 'd["Error"]["Type"] == "ResourceNotFoundException" and
    d["Error"]["Dynamo"] == "not_found"' "a missing table must be not_found"
kdaws_ok ct dynamodb CreateTable "{\"TableName\":\"$TB\"}"
expect ct 'd["TableDescription"]["TableName"] == "'$TB'" and
    d["TableDescription"]["HashKey"] == "leaseKey" and
    d["TableDescription"]["BillingMode"] == "PAY_PER_REQUEST"' "CreateTable"
aws_dynamodb wait table-exists --table-name $TB || fail "table not ACTIVE"
kdaws_ok dt dynamodb DescribeTable "{\"TableName\":\"$TB\"}"
expect dt 'd["Table"]["TableStatus"] == "ACTIVE"' "DescribeTable status"
aws_dynamodb describe-table --table-name $TB >"$T/dt_cli.json" ||
    fail "aws describe-table"
same dt 'd["Table"]["TableArn"]' dt_cli 'd["Table"]["TableArn"]' "TableArn"
same dt 'd["Table"]["HashKey"]' dt_cli \
    '[k["AttributeName"] for k in d["Table"]["KeySchema"] if k["KeyType"] == "HASH"][0]' \
    "hash key"
same dt 'd["Table"]["BillingMode"]' dt_cli \
    'd["Table"]["BillingModeSummary"]["BillingMode"]' "billing mode"
kdaws_err again dynamodb CreateTable "{\"TableName\":\"$TB\"}"
expect again 'd["Error"]["Type"] == "ResourceInUseException" and
    d["Error"]["Dynamo"] == "in_use"' "creating it again must be in_use"
kdaws_ok ctp dynamodb CreateTable '{"TableName":"kd-prov",
    "KeySchema":[{"AttributeName":"shard","KeyType":"HASH"}],
    "ProvisionedThroughput":{"ReadCapacityUnits":7,"WriteCapacityUnits":3}}'
aws_dynamodb describe-table --table-name kd-prov >"$T/ctp_cli.json" ||
    fail "aws describe-table kd-prov"
expect ctp_cli 'd["Table"]["ProvisionedThroughput"]["ReadCapacityUnits"] == 7 and
    d["Table"]["ProvisionedThroughput"]["WriteCapacityUnits"] == 3 and
    d["Table"]["KeySchema"][0]["AttributeName"] == "shard"' \
    "a provisioned table as the CLI sees it"

# --- PutItem with a condition
ITEM='{"leaseKey":{"S":"shardId-000000000000"},"leaseCounter":{"N":"1"},
    "checkpoint":{"S":"TRIM_HORIZON"},"parentShardId":{"SS":["shardId-a","shardId-b"]}}'
NEW="\"ConditionExpression\":\"attribute_not_exists(leaseKey)\""
kdaws_ok put dynamodb PutItem "{\"TableName\":\"$TB\",\"Item\":$ITEM,$NEW}"
kdaws_err put2 dynamodb PutItem "{\"TableName\":\"$TB\",\"Item\":$ITEM,$NEW}"
expect put2 'd["Error"]["Type"] == "ConditionalCheckFailedException" and
    d["Error"]["Dynamo"] == "condition_failed" and d["Error"]["Attempts"] == 1' \
    "a second create must fail its condition, unretried"

# --- GetItem, and the CLI reading the same item
KEY='{"leaseKey":{"S":"shardId-000000000000"}}'
kdaws_ok get dynamodb GetItem "{\"TableName\":\"$TB\",\"Key\":$KEY,\"ConsistentRead\":true}"
aws_dynamodb get-item --table-name $TB --key "$KEY" --consistent-read \
    >"$T/get_cli.json" || fail "aws get-item"
same get 'd["Item"]' get_cli 'd["Item"]' "GetItem differs from the CLI's"
expect get 'sorted(d["Item"]["parentShardId"]["SS"]) == ["shardId-a", "shardId-b"]' \
    "string sets survive"
kdaws_ok none dynamodb GetItem "{\"TableName\":\"$TB\",\"Key\":{\"leaseKey\":{\"S\":\"nope\"}}}"
expect none '"Item" not in d' "a missing item must come back as none"

# --- UpdateItem: the lease counter, conditional on its value
UPD="\"UpdateExpression\":\"SET #c = #c + :one, leaseOwner = :me\",
    \"ExpressionAttributeNames\":{\"#c\":\"leaseCounter\"},\"ReturnValues\":\"ALL_NEW\""
kdaws_ok upd dynamodb UpdateItem "{\"TableName\":\"$TB\",\"Key\":$KEY,$UPD,
    \"ConditionExpression\":\"#c = :v\",
    \"ExpressionAttributeValues\":{\":one\":{\"N\":\"1\"},\":v\":{\"N\":\"1\"},\":me\":{\"S\":\"w1\"}}}"
expect upd 'd["Attributes"]["leaseCounter"] == {"N": "2"} and
    d["Attributes"]["leaseOwner"] == {"S": "w1"}' "UpdateItem ALL_NEW"
kdaws_err upd2 dynamodb UpdateItem "{\"TableName\":\"$TB\",\"Key\":$KEY,$UPD,
    \"ConditionExpression\":\"#c = :v\",
    \"ExpressionAttributeValues\":{\":one\":{\"N\":\"1\"},\":v\":{\"N\":\"1\"},\":me\":{\"S\":\"w2\"}}}"
expect upd2 'd["Error"]["Dynamo"] == "condition_failed"' \
    "a stale counter must fail the condition"
aws_dynamodb get-item --table-name $TB --key "$KEY" --consistent-read \
    >"$T/get2_cli.json" || fail "aws get-item"
expect get2_cli 'd["Item"]["leaseCounter"] == {"N": "2"} and
    d["Item"]["leaseOwner"] == {"S": "w1"}' "the CLI must see the update, not the failed one"
kdaws_err bad dynamodb UpdateItem "{\"TableName\":\"$TB\",\"Key\":$KEY,
    \"UpdateExpression\":\"SET #c = :v\",\"ExpressionAttributeValues\":{\":v\":{\"N\":\"1\"}}}"
expect bad 'd["Error"]["Type"] == "ValidationException" and
    d["Error"]["Dynamo"] == "other"' "an undefined #name is a ValidationException"

# --- items put by the CLI, then Scan across pages
for i in 1 2 3 4 5 6; do
	aws_dynamodb put-item --table-name $TB \
	    --item "{\"leaseKey\":{\"S\":\"shardId-00000000000$i\"},\"leaseCounter\":{\"N\":\"$i\"}}" ||
	    fail "aws put-item $i"
done
kdaws_ok cliget dynamodb GetItem \
    "{\"TableName\":\"$TB\",\"Key\":{\"leaseKey\":{\"S\":\"shardId-000000000004\"}}}"
expect cliget 'd["Item"]["leaseCounter"] == {"N": "4"}' "an item the CLI put"
kdaws_ok scan dynamodb Scan "{\"TableName\":\"$TB\",\"Limit\":2,\"ConsistentRead\":true}"
expect scan 'd["Count"] == 7 and len(d["Items"]) == 7 and d["Pages"] >= 4' \
    "Scan with Limit 2 must gather 7 items over 4 or more pages"
aws_dynamodb scan --table-name $TB >"$T/scan_cli.json" || fail "aws scan"
KEYS='sorted(i["leaseKey"]["S"] for i in d["Items"])'
same scan "$KEYS" scan_cli "$KEYS" "Scan differs from the CLI's"
kdaws_ok scanf dynamodb Scan "{\"TableName\":\"$TB\",\"Limit\":3,
    \"FilterExpression\":\"leaseCounter > :n\",
    \"ExpressionAttributeValues\":{\":n\":{\"N\":\"3\"}}}"
expect scanf "$KEYS == ['shardId-00000000000%d' % i for i in (4, 5, 6)]" \
    "Scan with a filter across pages"
kdaws_ok scan1 dynamodb Scan '{"TableName":"kd-prov"}'
expect scan1 'd["Count"] == 0 and d["Items"] == [] and d["Pages"] == 1' \
    "Scan of an empty table"

# --- DeleteItem with a condition
kdaws_err del dynamodb DeleteItem "{\"TableName\":\"$TB\",\"Key\":$KEY,
    \"ConditionExpression\":\"leaseOwner = :o\",
    \"ExpressionAttributeValues\":{\":o\":{\"S\":\"someone-else\"}}}"
expect del 'd["Error"]["Dynamo"] == "condition_failed"' "DeleteItem's condition"
kdaws_ok del2 dynamodb DeleteItem "{\"TableName\":\"$TB\",\"Key\":$KEY,
    \"ConditionExpression\":\"leaseOwner = :o\",
    \"ExpressionAttributeValues\":{\":o\":{\"S\":\"w1\"}},\"ReturnValues\":\"ALL_OLD\"}"
expect del2 'd["Attributes"]["leaseOwner"] == {"S": "w1"}' "DeleteItem ALL_OLD"
aws_dynamodb get-item --table-name $TB --key "$KEY" >"$T/gone_cli.json" ||
    fail "aws get-item"
# (the CLI prints nothing at all for a missing item)
[ ! -s "$T/gone_cli.json" ] || expect gone_cli '"Item" not in d' \
    "the CLI must see the item gone"

# --- a raw call passes through
kdaws_ok raw dynamodb ListTables '{}'
expect raw 'sorted(d["TableNames"]) == ["kd-leases", "kd-prov"]' \
    "ListTables through aws_client_call"
exit 0
