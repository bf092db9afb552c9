#!/usr/bin/env node
// kpl_agg_peer.js — aws-kinesis-agg, the reference KPL aggregate codec for
// Node, driven over stdin/stdout so the C tests can check kpl/ against it.
//
//   node tests/kpl_agg_peer.js aggregate   < {"records":[{"key","ehk"?,"data"}]}
//     -> {"aggregates":[{"key","ehk"?,"data"}]}   (as aws-kinesis-agg splits)
//   node tests/kpl_agg_peer.js deaggregate < {"data"}
//     -> {"aggregate":true,"records":[{"index","key","ehk"?,"data"}]}
//        or {"aggregate":false,"error"?} when it is not a valid aggregate
//
// data is standard base64 both ways; keys are JSON strings.  Any failure
// goes to stderr with a non-zero exit.  Two aws-kinesis-agg bugs are worked
// around (see checkTable and ehkPresence); the records themselves are always
// what aws-kinesis-agg encodes and decodes.
'use strict';

const path = require('path');

let agg;
try {
	agg = require(path.join(__dirname, '..', 'node_modules', 'aws-kinesis-agg'));
} catch (e) {
	console.error('kpl_agg_peer: aws-kinesis-agg is not installed; run `make deps`');
	process.exit(3);
}

function readStdin() {
	return JSON.parse(require('fs').readFileSync(0, 'utf8'));
}

// aws-kinesis-agg keeps each key table in a plain object and writes it out
// with Object.keys(), which lists integer-like keys ("42", "0") first and
// in numeric order, not in the order the records' indexes assume: their
// records then point at the wrong keys.  "__proto__" is not stored at all.
// Refuse such input rather than hand back a silently wrong aggregate.
function checkTable(what, keys) {
	const order = [];
	const seen = new Set();
	for (const k of keys) {
		if (k === '__proto__') {
			throw new Error(`${what} "__proto__" is lost by aws-kinesis-agg`);
		}
		if (!seen.has(k)) {
			seen.add(k);
			order.push(k);
		}
	}
	const o = {};
	order.forEach((k, i) => { o[k] = i; });
	if (Object.keys(o).some((k, i) => k !== order[i])) {
		throw new Error(`integer-like ${what}s out of numeric order: ` +
			'aws-kinesis-agg would scramble its table');
	}
}

function aggregate() {
	const input = readStdin();
	checkTable('partition key', input.records.map((r) => r.key));
	checkTable('explicit hash key', input.records
		.filter((r) => r.ehk !== undefined).map((r) => r.ehk));
	const records = input.records.map((r) => {
		const rec = { partitionKey: r.key, data: Buffer.from(r.data, 'base64') };
		if (r.ehk !== undefined) {
			rec.explicitHashKey = r.ehk;
		}
		return rec;
	});
	const out = [];
	let failure = null;
	const aggregator = new agg.RecordAggregator();
	// Synchronous: the callback runs once per finished aggregate.
	aggregator.aggregateRecords(records, true, (err, encoded) => {
		if (err) {
			failure = failure || err;
			return;
		}
		const a = { key: encoded.partitionKey, data: encoded.data.toString('base64') };
		if (encoded.ExplicitHashKey !== undefined) {
			a.ehk = encoded.ExplicitHashKey;
		}
		out.push(a);
	});
	if (failure) {
		throw failure;
	}
	return { aggregates: out };
}

function deaggregate() {
	const input = readStdin();
	const kinesisRecord = {
		partitionKey: 'outer',
		sequenceNumber: '1',
		data: input.data,
	};
	let result = null;
	agg.deaggregateSync(kinesisRecord, true, (err, userRecords) => {
		if (err) {
			result = { aggregate: false, error: String(err.message || err) };
			return;
		}
		// A plain record comes back as itself, without a subsequence number.
		if (userRecords.length === 1 && userRecords[0].subSequenceNumber === undefined) {
			result = { aggregate: false };
			return;
		}
		const hasEhk = ehkPresence(input.data);
		result = {
			aggregate: true,
			records: userRecords.map((u, i) => {
				const r = { index: u.subSequenceNumber, key: u.partitionKey, data: u.data };
				if (hasEhk[i]) {
					r.ehk = u.explicitPartitionKey;
				}
				return r;
			}),
		};
	});
	return result;
}

// deaggregate() reads a record without explicit_hash_key_index as index 0
// (protobufjs's default), so when the table is not empty every record
// seems to have table[0].  Which records really carry one is read here,
// with aws-kinesis-agg's own schema and decoder (called after deaggregate
// accepted the blob, so it decodes).
function ehkPresence(b64) {
	const common = require(path.join(__dirname, '..', 'node_modules',
		'aws-kinesis-agg', 'lib', 'common'));
	const b = Buffer.from(b64, 'base64');
	const m = common.AggregatedRecord.decode(b.subarray(4, b.length - 16));
	return m.records.map((r) =>
		Object.prototype.hasOwnProperty.call(r, 'explicit_hash_key_index'));
}

function main() {
	const verb = process.argv[2];
	let result;
	if (verb === 'aggregate') {
		result = aggregate();
	} else if (verb === 'deaggregate') {
		result = deaggregate();
	} else {
		console.error('usage: kpl_agg_peer.js aggregate|deaggregate < input.json');
		process.exit(2);
	}
	process.stdout.write(JSON.stringify(result) + '\n');
}

try {
	main();
} catch (e) {
	console.error('kpl_agg_peer: ' + (e && e.message ? e.message : e));
	process.exit(1);
}
