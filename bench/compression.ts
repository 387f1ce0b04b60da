/**
 * What compressing records buys and costs (records/compression.ts), for a
 * 13 KB JSON response (a page of an API's list, varied as real ones are):
 * the bytes stored per codec, the CPU a write pays to compress, and the CPU a
 * hit pays to decode the record (decompressing included) when it reads bytes
 * it has not decoded before. Prints one JSON line; `npm run bench` runs it on
 * Node 20 and Node 24 (zstd) and checks the default against the figures.
 */
import { decodeRecord, encodeRecord } from '../lib/records/codec.js';
import { type CompressionCodec, codecAvailable } from '../lib/records/compression.js';
import type { StoredResponse } from '../lib/records/model.js';
import { machine, median } from './harness.js';

/** A deterministic 13 KB page of repositories, as a list API answers. */
function page(): Uint8Array {
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const words = ['cache', 'http', 'fetch', 'undici', 'lambda', 'storage', 'stream', 'record', 'replay', 'proxy', 'edge', 'queue', 'worker', 'client'];
  const word = () => words[Math.floor(random() * words.length)] as string;
  const items = [];
  while (items.length === 0 || JSON.stringify(items).length < 13_000) {
    items.push({
      id: 100_000 + Math.floor(random() * 900_000),
      name: `${word()}-${word()}`,
      full_name: `org-${Math.floor(random() * 50)}/${word()}-${word()}`,
      description: `A ${word()} for ${word()} and ${word()}, with ${word()} support`,
      stars: Math.floor(random() * 20_000),
      forks: Math.floor(random() * 3_000),
      updated_at: new Date(1_700_000_000_000 + Math.floor(random() * 3e10)).toISOString(),
      topics: [word(), word(), word()],
      private: random() < 0.1,
    });
  }
  return new TextEncoder().encode(JSON.stringify(items));
}

function record(body: Uint8Array): StoredResponse {
  return {
    kind: 'response',
    expiresAt: null,
    status: 200,
    statusText: 'OK',
    headers: ['content-type', 'application/json; charset=utf-8', 'cache-control', 'max-age=60', 'etag', '"abc"'],
    body,
    method: 'GET',
    url: 'https://api.example.com/repos?page=1',
    key: 'GET https://api.example.com/repos?page=1',
    redirect: null,
    vary: null,
    requestTime: 0,
    responseTime: 1,
    initialAge: 0,
    lifetime: 60_000,
    flags: 0,
    staleWhileRevalidate: -1,
    staleIfError: -1,
    hiddenFields: null,
    tags: [],
  };
}

/** µs per call of `operation`, median of rounds. */
function time(operation: () => unknown, perRound: number): number {
  const rounds: number[] = [];
  for (let round = 0; round < 15; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) operation();
    rounds.push(Number(process.hrtime.bigint() - started) / 1000 / perRound);
  }
  return Math.round(median(rounds) * 10) / 10;
}

const body = page();
const stored = record(body);
const results: Record<string, { bytes: number; encodeUs: number; decodeUs: number }> = {};
for (const codec of ['none', 'deflate', 'brotli', 'zstd'] as const) {
  if (codec !== 'none' && !codecAvailable(codec as CompressionCodec)) continue;
  const compression = codec === 'none' ? undefined : { codec: codec as CompressionCodec, threshold: 0, minSaving: 0 };
  const bytes = encodeRecord(stored, compression);
  for (let i = 0; i < 200; i++) decodeRecord(bytes);
  results[codec] = {
    bytes: bytes.byteLength,
    encodeUs: time(() => encodeRecord(stored, compression), 200),
    decodeUs: time(() => decodeRecord(bytes), 500),
  };
}
process.stdout.write(`${JSON.stringify({ machine: machine(), compression: { bodyBytes: body.byteLength, codecs: results } })}\n`);
