// agg_node.js — aws-kinesis-agg (the Node reference KPL codec) on the same
// work as bench/aggbench.c: N user records of SIZE bytes over 10,000
// partition keys aggregated (its RecordAggregator, default size limit),
// then every aggregate split again with deaggregateSync.  Prints one JSON
// line like aggbench.
//   node bench/agg_node.js N SIZE
'use strict';
const path = require('path');
const agg = require(path.join(__dirname, '..', 'node_modules', 'aws-kinesis-agg'));

const n = Number(process.argv[2]);
const size = Number(process.argv[3]);
const records = [];
for (let i = 0; i < n; i++) {
	const data = Buffer.alloc(size);
	for (let j = 0; j < size; j++) data[j] = (j * 31 + 7) & 255;
	data.writeUInt32LE(i >>> 0, 0);
	records.push({ partitionKey: 'k' + ((i * 7919) % 10000), data });
}
const now = () => Number(process.hrtime.bigint()) / 1e9;
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

let w0 = now(), c0 = cpu();
const blobs = [];
const aggregator = new agg.RecordAggregator();
aggregator.aggregateRecords(records, true, (err, encoded) => {
	if (err) { console.error(err); process.exit(1); }
	blobs.push(encoded);
});
let w1 = now(), c1 = cpu();
let got = 0;
for (const b of blobs) {
	agg.deaggregateSync({ partitionKey: b.partitionKey, sequenceNumber: '1',
		data: b.data.toString('base64') }, false, (err, users) => {
		if (err) { console.error(err); process.exit(1); }
		got += users.length;
	});
}
let w2 = now(), c2 = cpu();
if (got !== n) { console.error(`agg_node: ${got} of ${n} records came back`); process.exit(1); }
console.log(JSON.stringify({ records: n, aggregates: blobs.length,
	agg_rps: Math.round(n / (w1 - w0)), agg_cpu_us: (c1 - c0) * 1e6 / n,
	deagg_rps: Math.round(n / (w2 - w1)), deagg_cpu_us: (c2 - c1) * 1e6 / n }));
