import http from 'node:http';
import * as undici from 'undici';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { dynamoEndpoint, localClient, stopDynamoLocal } from './dist/fixtures/dynamodb-local.js';
import { DynamoDBStorage } from './dist/lib/storage/dynamodb/storage.js';
import { createCache } from './dist/lib/index.js';
import { measureInterleaved } from './dist/bench/harness.js';
await dynamoEndpoint();
const BODY = Buffer.alloc(2048, 'd');
const server = http.createServer((_req, res) => { res.writeHead(200, { 'cache-control': 'max-age=3600', 'content-length': '2048' }); res.end(BODY); });
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/item`;
const client = await localClient();
const table = 'bench-' + Date.now();
const storage = new DynamoDBStorage({ tableName: table, client, readTimeout: 5000 });
await storage.createTable();
const cache = createCache({ storage });
const d = new undici.Agent().compose(cache.interceptor());
await (await undici.request(url, { dispatcher: d })).body.arrayBuffer();
await cache.settled();
let key; for await (const k of cache.responses.keys()) key = k;
const shard = (() => { let h = 0x811c9dc5; for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193); return (h >>> 0) % 8; })();
const Key = { namespace: { S: `responses#${shard}` }, key: { S: key } };
const c2 = await localClient();
const res = await measureInterleaved({
  raw: () => c2.send(new GetItemCommand({ TableName: table, Key })),
  storageGet: () => cache.responses.get(key),
  hit: async () => { const r = await undici.request(url, { dispatcher: d }); await r.body.arrayBuffer(); },
}, { warmup: 300, rounds: Number(process.argv[2] ?? 15), perRound: 200 });
console.log(Object.entries(res).map(([k, v]) => `${k} ${v.medianUs}`).join('  '));
server.close(); await stopDynamoLocal(); process.exit(0);
