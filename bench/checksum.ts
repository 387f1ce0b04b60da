/**
 * What a record's CRC-32 costs: decoding a stored response with its checksum
 * checked, against the checksum alone, for bodies of several sizes. A hit
 * pays it only when it decodes bytes it has not decoded before (a memory
 * storage hands back the same bytes, and those are decoded once). Prints one
 * JSON line.
 */
import { crc32 } from 'node:zlib';
import { decodeRecord, encodeRecord } from '../lib/records/codec.js';
import type { StoredResponse } from '../lib/records/model.js';
import { machine, median } from './harness.js';

function record(size: number): StoredResponse {
  return {
    kind: 'response',
    expiresAt: null,
    status: 200,
    statusText: 'OK',
    headers: ['content-type', 'application/json', 'cache-control', 'max-age=60', 'content-length', String(size)],
    body: new Uint8Array(Buffer.alloc(size, 'x')),
    method: 'GET',
    url: 'https://api.example.com/items?page=1',
    key: 'GET https://api.example.com/items?page=1',
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
  return Math.round(median(rounds) * 100) / 100;
}

const checksum: Record<string, { decodeUs: number; crcUs: number; share: number }> = {};
for (const [label, size] of [
  ['2 KB', 2048],
  ['64 KB', 65536],
  ['1 MB', 1048576],
] as const) {
  const bytes = encodeRecord(record(size));
  const packed = bytes.subarray(0, bytes.length - 4);
  const perRound = Math.max(20, Math.round(4_000_000 / size));
  for (let i = 0; i < perRound; i++) decodeRecord(bytes);
  const decodeUs = time(() => decodeRecord(bytes), perRound);
  const crcUs = time(() => crc32(packed), perRound);
  checksum[label] = { decodeUs, crcUs, share: Math.round((crcUs / decodeUs) * 100) / 100 };
}
process.stdout.write(`${JSON.stringify({ machine: machine(), checksum })}\n`);
