// node_peer.js — what a Node service would do without kinesisd, with the
// official @aws-sdk/client-kinesis, against the same fake Kinesis
// (bench/fakekinesis.py) as kinesisd in the same run.
//
//   node bench/node_peer.js produce ENDPOINT N SIZE [IN_FLIGHT]
//       N records of SIZE bytes, PutRecords of 500, IN_FLIGHT (24, the
//       KPL's MaxConnections) requests at once, no aggregation.
//   node bench/node_peer.js latency ENDPOINT RATE SECONDS SIZE
//       one PutRecord per record at RATE a second: per-record latency.
//   node bench/node_peer.js consume ENDPOINT N
//       ListShards, then every shard read from TRIM_HORIZON with
//       GetRecords until it is drained, each record split with
//       aws-kinesis-agg's deaggregateSync; stops after N user records.
// Prints one JSON line: records/s, CPU microseconds per record (this
// process's user+system), RSS and peak RSS in MiB, latencies in ms.
'use strict';
const path = require('path');
const { KinesisClient, PutRecordsCommand, PutRecordCommand, ListShardsCommand,
	GetShardIteratorCommand, GetRecordsCommand } = require('@aws-sdk/client-kinesis');
const agg = require(path.join(__dirname, '..', 'node_modules', 'aws-kinesis-agg'));

const [verb, endpoint] = process.argv.slice(2, 4);
// The Kinesis client speaks HTTP/2 by default (for SubscribeToShard); the
// fake speaks HTTP/1.1, as kinesisd does, so both use keep-alive HTTP/1.1.
const { NodeHttpHandler } = require('@smithy/node-http-handler');
const http = require('http');
const client = new KinesisClient({ endpoint, region: 'us-east-1', maxAttempts: 3,
	requestHandler: new NodeHttpHandler({ httpAgent: new http.Agent({ keepAlive: true, maxSockets: 64 }) }) });
const STREAM = 'bench';
const now = () => Number(process.hrtime.bigint()) / 1e9;
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const mib = (b) => Math.round(b / 1048576 * 10) / 10;

function record(i, size) {
	const data = Buffer.alloc(size);
	for (let j = 0; j < size; j++) data[j] = (j * 31 + 7) & 255;
	data.writeUInt32LE(i >>> 0, 0);
	return { PartitionKey: 'k' + ((i * 7919) % 10000), Data: data };
}

function report(extra) {
	console.log(JSON.stringify(Object.assign({ rss_mib: mib(process.memoryUsage().rss),
		peak_rss_mib: mib(process.resourceUsage().maxRSS * 1024) }, extra)));
}

async function produce(n, size, inFlight) {
	let next = 0, done = 0;
	const w0 = now(), c0 = cpu();
	async function worker() {
		while (next < n) {
			const batch = [];
			while (batch.length < 500 && next < n) batch.push(record(next++, size));
			let todo = batch;
			for (let attempt = 0; todo.length && attempt < 10; attempt++) {
				const r = await client.send(new PutRecordsCommand({ StreamName: STREAM, Records: todo }));
				todo = todo.filter((_, k) => r.Records[k].ErrorCode);
			}
			done += batch.length - todo.length;
		}
	}
	await Promise.all(Array.from({ length: inFlight }, worker));
	const dt = now() - w0;
	report({ records: done, seconds: dt, rps: Math.round(done / dt),
		cpu_us: (cpu() - c0) * 1e6 / done });
}

async function latency(rate, seconds, size) {
	const lat = [];
	const n = Math.round(rate * seconds);
	const t0 = now();
	const pending = [];
	for (let i = 0; i < n; i++) {
		const due = t0 + i / rate;
		const wait = due - now();
		if (wait > 0.001) await new Promise((r) => setTimeout(r, wait * 1000));
		const s = now();
		pending.push(client.send(new PutRecordCommand(Object.assign({ StreamName: STREAM },
			record(i, size)))).then(() => lat.push(now() - s)));
	}
	await Promise.all(pending);
	lat.sort((a, b) => a - b);
	const q = (p) => Math.round(lat[Math.min(lat.length - 1, Math.round(p * (lat.length - 1)))] * 1e6) / 1e3;
	report({ records: lat.length, rps: Math.round(lat.length / (now() - t0)),
		p50_ms: q(0.5), p99_ms: q(0.99), p999_ms: q(0.999) });
}

async function consume(n) {
	const shards = (await client.send(new ListShardsCommand({ StreamName: STREAM }))).Shards;
	let got = 0;
	const w0 = now(), c0 = cpu();
	await Promise.all(shards.map(async (s) => {
		let it = (await client.send(new GetShardIteratorCommand({ StreamName: STREAM,
			ShardId: s.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
		for (let calls = 0; it && calls < 100000; calls++) {
			const r = await client.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10000 }));
			for (const k of r.Records) {
				agg.deaggregateSync({ partitionKey: k.PartitionKey, sequenceNumber: k.SequenceNumber,
					data: Buffer.from(k.Data).toString('base64') }, false, (err, users) => {
					if (err) throw err;
					got += users.length;
				});
			}
			if (r.Records.length === 0 && r.MillisBehindLatest === 0) break;
			it = r.NextShardIterator;
		}
	}));
	const dt = now() - w0;
	if (got < n) { console.error(`node_peer: ${got} of ${n} records`); process.exit(1); }
	report({ records: got, seconds: dt, rps: Math.round(got / dt), cpu_us: (cpu() - c0) * 1e6 / got });
}

const a = process.argv.slice(4).map(Number);
({ produce: () => produce(a[0], a[1], a[2] || 24),
	latency: () => latency(a[0], a[1], a[2]),
	consume: () => consume(a[0]) })[verb]().catch((e) => { console.error(e); process.exit(1); });
