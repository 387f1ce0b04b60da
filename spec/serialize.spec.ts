import { expect } from 'chai';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { decodeRecord, encodeRecord, FORMAT_VERSION, type StoredResponse } from '../lib/serialize.js';

const sample = (): StoredResponse => ({
  kind: 'response',
  expiresAt: Date.now() + 60_000,
  status: 200,
  statusText: 'OK',
  headers: ['content-type', 'text/plain', 'set-cookie', 'a=1', 'set-cookie', 'b=2'],
  body: new Uint8Array([0, 1, 2, 255]),
  method: 'GET',
  url: 'http://127.0.0.1/a?b=REDACTED',
  vary: ['accept', 'text/html', 'accept-language', null],
  requestTime: 1_700_000_000_000,
  responseTime: 1_700_000_000_050,
  initialAge: 50,
  lifetime: Number.POSITIVE_INFINITY,
  flags: 3,
  staleWhileRevalidate: -1,
  staleIfError: 30,
  hiddenFields: ['x-private'],
});

describe('serialize', () => {
  it('round-trips a response record, bytes and all', () => {
    const record = sample();
    const decoded = decodeRecord(encodeRecord(record)) as StoredResponse;
    expect({ ...decoded, body: [...decoded.body] }).to.deep.equal({ ...record, body: [...record.body] });
  });

  it('round-trips the variants index and the aliases record', () => {
    const variants = { kind: 'variants', expiresAt: null, names: ['accept'], generation: 'g1', keys: ['k~1'] } as const;
    const aliases = { kind: 'aliases', expiresAt: 5, keys: ['a', 'b'] } as const;
    expect(decodeRecord(encodeRecord({ ...variants, names: [...variants.names], keys: [...variants.keys] }))).to.deep.equal(variants);
    expect(decodeRecord(encodeRecord({ ...aliases, keys: [...aliases.keys] }))).to.deep.equal(aliases);
  });

  it('reads a record of an unknown format version as nothing', () => {
    const packr = new Packr({ useRecords: false });
    const future = packr.pack([0xcac, FORMAT_VERSION + 1, 1, null]);
    expect(decodeRecord(future)).to.equal(undefined);
  });

  it('reads truncated records as nothing', () => {
    const encoded = encodeRecord(sample());
    for (let length = 0; length < encoded.length; length += 3) {
      expect(decodeRecord(encoded.subarray(0, length))).to.equal(undefined);
    }
  });

  it('reads well-formed msgpack of the wrong shape as nothing', () => {
    const packr = new Packr({ useRecords: false });
    for (const value of [null, 1, 'text', [], [0xcac], [0xcac, FORMAT_VERSION, 1, null, 'x'], { a: 1 }]) {
      expect(decodeRecord(packr.pack(value))).to.equal(undefined);
    }
    const fields = [0xcac, FORMAT_VERSION, 1, null, 200, 'OK', ['a'], new Uint8Array(0), 'GET', 'u', null, 0, 0, 0, 1, 0, -1, -1, null];
    expect(decodeRecord(packr.pack(fields)), 'odd header pairs').to.equal(undefined);
  });

  it('never throws on random bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        const record = decodeRecord(bytes);
        return record === undefined || typeof record.kind === 'string';
      }),
      { numRuns: 5000 },
    );
  });

  it('never throws on a valid record with random bytes flipped (property)', () => {
    const encoded = encodeRecord(sample());
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(encoded.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (flips) => {
        const corrupted = new Uint8Array(encoded);
        for (const [index, value] of flips) corrupted[index] = value;
        const record = decodeRecord(corrupted);
        return record === undefined || record.kind === 'response';
      }),
      { numRuns: 5000 },
    );
  });
});
