import { crc32 } from 'node:zlib';
import { expect } from 'chai';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { decodeRecord, encodeRecord, FORMAT_VERSION } from '../../lib/records/codec.js';
import type { StoredResponse } from '../../lib/records/model.js';

/** Packed fields with the CRC-32 trailer a record carries, so that what is tested is the shape, not the checksum. */
function sealed(fields: unknown): Uint8Array {
  const packed = new Packr({ useRecords: false }).pack(fields);
  const bytes = Buffer.alloc(packed.length + 4);
  bytes.set(packed);
  bytes.writeUInt32BE(crc32(packed), packed.length);
  return bytes;
}

const sample = (): StoredResponse => ({
  kind: 'response',
  expiresAt: Date.now() + 60_000,
  status: 200,
  statusText: 'OK',
  headers: ['content-type', 'text/plain', 'set-cookie', 'a=1', 'set-cookie', 'b=2'],
  body: new Uint8Array([0, 1, 2, 255]),
  method: 'GET',
  url: 'http://127.0.0.1/a?b=REDACTED',
  key: 'aB3-key',
  redirect: null,
  vary: ['accept', 'text/html', 'accept-language', null],
  requestTime: 1_700_000_000_000,
  responseTime: 1_700_000_000_050,
  initialAge: 50,
  lifetime: Number.POSITIVE_INFINITY,
  flags: 3,
  staleWhileRevalidate: -1,
  staleIfError: 30,
  hiddenFields: ['x-private'],
  tags: ['team:a'],
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
    expect(decodeRecord(sealed([0xcac, FORMAT_VERSION + 1, 1, null]))).to.equal(undefined);
    // Version 1 had no checksum: its records are misses (and are deleted) after an upgrade.
    expect(decodeRecord(new Packr({ useRecords: false }).pack([0xcac, 1, 3, null, ['k']]))).to.equal(undefined);
  });

  it('reads truncated records as nothing', () => {
    const encoded = encodeRecord(sample());
    for (let length = 0; length < encoded.length; length += 3) {
      expect(decodeRecord(encoded.subarray(0, length))).to.equal(undefined);
    }
  });

  it('reads well-formed msgpack of the wrong shape as nothing', () => {
    for (const value of [null, 1, 'text', [], [0xcac], [0xcac, FORMAT_VERSION, 1, null, 'x'], { a: 1 }]) {
      expect(decodeRecord(sealed(value))).to.equal(undefined);
    }
    const fields = [0xcac, FORMAT_VERSION, 1, null, 200, 'OK', ['a'], new Uint8Array(0), 'GET', 'http://h/', 'k', null, null, 0, 0, 0, 1, 0, -1, -1, null, []];
    expect(decodeRecord(sealed(fields)), 'odd header pairs').to.equal(undefined);
    fields[6] = ['a', 'b'];
    expect(decodeRecord(sealed(fields)), 'the same, well paired').to.not.equal(undefined);
    fields[21] = ['two words'];
    expect(decodeRecord(sealed(fields)), 'a tag with a space').to.equal(undefined);
  });

  it('a flipped byte anywhere in a record is caught by its checksum: every position, every flip', () => {
    const encoded = encodeRecord({ ...sample(), body: new Uint8Array(Buffer.alloc(2048, 'x')) });
    let caught = 0;
    for (let index = 0; index < encoded.length; index++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const corrupted = new Uint8Array(encoded);
        corrupted[index] = (corrupted[index] as number) ^ mask;
        if (decodeRecord(corrupted) === undefined) caught += 1;
      }
    }
    expect(caught).to.equal(encoded.length * 3);
  });

  describe('values no stored response can have read as nothing', () => {
    const cases: Array<[string, Partial<StoredResponse>]> = [
      ['an interim status (a consumer would wait for a final one forever)', { status: 103 }],
      ['status 100', { status: 100 }],
      ['a status past 599', { status: 600 }],
      ['a field name that is no token', { headers: ['bad name', 'x'] }],
      ['a field name in upper case (names are stored lower-case)', { headers: ['Content-Type', 'x'] }],
      ['a field value with a line break', { headers: ['x-a', 'one\r\nx-injected: two'] }],
      ['a Content-Length that disagrees with the body', { headers: ['content-length', '5'] }],
      ['a Content-Length that is no number', { headers: ['content-length', 'four'] }],
      ['a 204 with a body', { status: 204, headers: [] }],
      ['a status text with a line break', { statusText: 'OK\r\n' }],
      ['a method that is no token', { method: 'G ET' }],
      ['a URL that is not http(s)', { url: 'file:///etc/passwd' }],
      ['no key of the request it answers', { key: '' }],
      ['a negative lifetime', { lifetime: -1 }],
      ['a negative initial age', { initialAge: -5 }],
    ];
    for (const [name, change] of cases) {
      it(name, () => {
        expect(decodeRecord(encodeRecord({ ...sample(), ...change }))).to.equal(undefined);
      });
    }

    it('while a Content-Length that agrees is fine', () => {
      expect(decodeRecord(encodeRecord({ ...sample(), headers: ['content-length', '4'] }))).to.not.equal(undefined);
    });
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
