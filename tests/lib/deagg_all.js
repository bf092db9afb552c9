// deagg_all.js — split every KPL aggregate of a stream read back by
// read_stream.py with aws-kinesis-agg (the reference codec), so tests see
// user records exactly as a KCL application would.
//   node tests/lib/deagg_all.js < read_stream.json
//   -> [{"shard","seq","subseq","key","data","aggregated"}]
'use strict';
const path = require('path');
const agg = require(path.join(__dirname, '..', '..', 'node_modules',
	'aws-kinesis-agg'));
const MAGIC = Buffer.from([0xf3, 0x89, 0x9a, 0xc2]);

const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = [];
let pending = input.records.length;
if (pending === 0) {
	process.stdout.write('[]');
}
for (const r of input.records) {
	const data = Buffer.from(r.data, 'base64');
	const aggregated = data.length > 20 && data.subarray(0, 4).equals(MAGIC);
	let subseq = 0;
	agg.deaggregate({ partitionKey: r.key, data: r.data,
		sequenceNumber: r.seq }, true, (err, ur) => {
		if (err) {
			console.error('deaggregate: ' + err);
			process.exit(1);
		}
		out.push({ shard: r.shard, seq: r.seq,
			subseq: aggregated ? Number(ur.subSequenceNumber) : 0,
			key: ur.partitionKey, data: ur.data, aggregated });
		subseq++;
	}, (err) => {
		if (err) {
			console.error('deaggregate: ' + err);
			process.exit(1);
		}
		if (--pending === 0) {
			process.stdout.write(JSON.stringify(out));
		}
	});
}
