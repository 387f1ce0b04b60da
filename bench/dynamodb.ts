/**
 * DynamoDB (DynamoDB Local, started here): a cachette hit vs a raw SDK
 * GetItem of the same item, SDK commands per hit; and clearing 10,000
 * entries vs a minimal hand-written Query + BatchWriteItem loop.
 * Prints one JSON line.
 */
import http from 'node:http';
import { type AttributeValue, BatchWriteItemCommand, GetItemCommand, QueryCommand, type WriteRequest } from '@aws-sdk/client-dynamodb';
import * as undici from 'undici';
import { CommandCounter, uniqueTableName } from '../fixtures/dynamodb.js';
import { dynamoEndpoint, localClient, stopDynamoLocal } from '../fixtures/dynamodb-local.js';
import { createCache, rawPartitions } from '../lib/cache.js';
import { DynamoDBStorage } from '../lib/storage/dynamodb/storage.js';
import { floorAfter, machine, measureInterleaved, requestThrough } from './harness.js';

const ENTRIES = 10_000;
const BODY = Buffer.alloc(2048, 'd');

await dynamoEndpoint();
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'cache-control': 'max-age=3600', 'content-length': String(BODY.length) });
  res.end(BODY);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/item`;

// --- hit vs raw GetItem -------------------------------------------------------
const counter = new CommandCounter();
const client = counter.attach(await localClient());
const tableName = uniqueTableName();
const storage = new DynamoDBStorage({ tableName, client, timeouts: { read: 5 } });
await storage.createTable();
const cache = createCache({ storage });
const dispatcher = new undici.Agent().compose(cache.interceptor());
const first = await undici.request(url, { dispatcher });
await first.body.arrayBuffer();
await cache.settled();
const [key] = await (async () => {
  const keys: string[] = [];
  for await (const k of rawPartitions(cache).responses.keys()) keys.push(k);
  return keys;
})();
const shard = (() => {
  let hash = 0x811c9dc5;
  for (let i = 0; i < (key as string).length; i++) hash = Math.imul(hash ^ (key as string).charCodeAt(i), 0x01000193);
  return (hash >>> 0) % 8;
})();
const rawGet = async () => {
  // The storage's own client: the same connection pool and middleware, so only what each does differs.
  await client.send(new GetItemCommand({ TableName: tableName, Key: { namespace: { S: `responses#${shard}` }, key: { S: key as string } } }));
};
const cachetteHit = requestThrough(url, dispatcher);
// The limit of the path: an interceptor that reads the same item with a raw GetItem, then answers a canned response.
const floorDispatcher = floorAfter(rawGet, BODY);
const floorHit = requestThrough(url, floorDispatcher);
// SDK commands per hit, counted on hits alone.
const COUNTED_HITS = 500;
counter.reset();
for (let i = 0; i < COUNTED_HITS; i++) await cachetteHit();
const commandsPerHit = Object.fromEntries([...counter.counts].map(([name, count]) => [name, count / COUNTED_HITS]));
// DynamoDB Local runs on the JVM, which takes a few thousand requests to warm up (until then each round is
// slower than the last); short rounds, many of them, so that its pauses touch every contender alike.
const hits = await measureInterleaved({ rawGetItem: rawGet, floorHit, cachetteHit }, { warmup: 2000, rounds: 61, perRound: 100 });

// --- clear 10,000 entries -----------------------------------------------------
async function fill(table: string, partitionStorage: DynamoDBStorage): Promise<void> {
  const partition = partitionStorage.partition('responses');
  for (let i = 0; i < ENTRIES; i += 200) {
    await Promise.all(Array.from({ length: 200 }, (_, j) => partition.set(`key-${i + j}`, BODY)));
  }
  void table;
}

const clearTable = uniqueTableName();
const clearCounter = new CommandCounter();
const clearStorage = new DynamoDBStorage({ tableName: clearTable, client: clearCounter.attach(await localClient()), timeouts: { write: 30 } });
await clearStorage.createTable();
await fill(clearTable, clearStorage);
clearCounter.reset();
let started = performance.now();
await clearStorage.partition('responses').clear();
const cachetteClear = {
  ms: Math.round(performance.now() - started),
  commands: Object.fromEntries(clearCounter.counts),
  left: await clearStorage.partition('responses').size(),
};

// The same, written by hand: each shard's keys with Query, deleted 25 at a time.
await fill(clearTable, clearStorage);
const handCounter = new CommandCounter();
const handClient = handCounter.attach(await localClient());
started = performance.now();
for (let s = 0; s < 8; s++) {
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await handClient.send(
      new QueryCommand({
        TableName: clearTable,
        KeyConditionExpression: 'namespace = :pk',
        ExpressionAttributeValues: { ':pk': { S: `responses#${s}` } },
        ProjectionExpression: 'namespace, #k',
        ExpressionAttributeNames: { '#k': 'key' },
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      }),
    );
    const items = page.Items ?? [];
    for (let i = 0; i < items.length; i += 25) {
      let requests: WriteRequest[] = items.slice(i, i + 25).map((item) => ({ DeleteRequest: { Key: item } }));
      while (requests.length > 0) {
        const out = await handClient.send(new BatchWriteItemCommand({ RequestItems: { [clearTable]: requests } }));
        requests = out.UnprocessedItems?.[clearTable] ?? [];
      }
    }
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
}
const handClear = {
  ms: Math.round(performance.now() - started),
  commands: Object.fromEntries(handCounter.counts),
  left: await clearStorage.partition('responses').size(),
};

await cache.close();
server.close();
await stopDynamoLocal();
process.stdout.write(
  `${JSON.stringify({
    machine: machine(),
    dynamodb: {
      hit: { rawGetItemUs: hits['rawGetItem'], floorHitUs: hits['floorHit'], cachetteHitUs: hits['cachetteHit'], commandsPerHit },
      clear: { entries: ENTRIES, cachette: cachetteClear, handWritten: handClear },
    },
  })}\n`,
);
process.exit(0);
