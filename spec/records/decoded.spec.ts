import { expect } from 'chai';
import { encodeRecord } from '../../lib/records/codec.js';
import { DecodedRecords } from '../../lib/records/decoded.js';
import type { StoredResponse } from '../../lib/records/model.js';
import { storedAt } from '../policy/stored-response.js';

/** A stored response of `size` body bytes, each `fill`. */
function response(size = 2048, fill = 1): StoredResponse {
  return storedAt(1_700_000_000_000, {
    lifetime: 600,
    headers: ['content-type', 'application/json', 'content-length', String(size)],
    body: new Uint8Array(size).fill(fill),
  });
}

/** The bytes a network storage hands back on each read: equal, but new every time. */
const readAgain = (bytes: Uint8Array): Uint8Array => Buffer.from(bytes);

describe('decoded records (the memo a storage of bytes is read through)', () => {
  it('decodes the new bytes of a key read again once: a hundred keys read in turn are each decoded once', () => {
    const memo = new DecodedRecords();
    const stored = Array.from({ length: 100 }, (_, i) => encodeRecord(response(2048, i % 250)));
    const first = stored.map((bytes, i) => memo.decode(`key-${i}`, readAgain(bytes)));
    const second = stored.map((bytes, i) => memo.decode(`key-${i}`, readAgain(bytes)));
    for (let i = 0; i < 100; i++) {
      expect(first[i]).to.not.equal(undefined);
      // The same record object: the bytes were compared, not decoded again.
      expect(second[i], `key ${i}`).to.equal(first[i]);
    }
  });

  it('decodes bytes that changed, and gives their own record', () => {
    const memo = new DecodedRecords();
    const before = memo.decode('k', encodeRecord(response(16, 1))) as StoredResponse;
    const after = memo.decode('k', encodeRecord(response(16, 2))) as StoredResponse;
    expect(after).to.not.equal(before);
    expect([...after.body]).to.deep.equal(new Array(16).fill(2));
    expect([...before.body]).to.deep.equal(new Array(16).fill(1));
  });

  it('keeps a copy of bytes that are a view of something larger, so the memo holds only what it counts', () => {
    const memo = new DecodedRecords();
    const bytes = encodeRecord(response(100));
    const socketRead = new Uint8Array(256 * 1024);
    socketRead.set(bytes, 1000);
    const view = socketRead.subarray(1000, 1000 + bytes.byteLength);
    const record = memo.decode('k', view) as StoredResponse;
    expect(record.body.buffer).to.not.equal(socketRead.buffer);
    expect(record.body.buffer.byteLength).to.be.below(socketRead.buffer.byteLength);
    // The view changing afterwards (the socket's buffer reused) changes nothing remembered.
    socketRead.fill(0);
    expect([...record.body]).to.deep.equal(new Array(100).fill(1));
    expect(memo.decode('k', readAgain(bytes))).to.equal(record);
  });

  it('is bounded by bytes: past 8 MiB of records kept, the least recently read are decoded again', () => {
    const memo = new DecodedRecords();
    const size = 60 * 1024;
    const count = Math.ceil((8 * 1024 * 1024) / size) + 10;
    const stored = Array.from({ length: count }, (_, i) => encodeRecord(response(size, i % 250)));
    const first = stored.map((bytes, i) => memo.decode(`key-${i}`, readAgain(bytes)));
    // The last read are still there; the first read are gone.
    expect(memo.decode(`key-${count - 1}`, readAgain(stored[count - 1] as Uint8Array))).to.equal(first[count - 1]);
    const again = memo.decode('key-0', readAgain(stored[0] as Uint8Array));
    expect(again).to.not.equal(first[0]);
    expect(again).to.deep.equal(first[0]);
  });

  it('reads unreadable bytes as no record, and remembers nothing for them', () => {
    const memo = new DecodedRecords();
    const good = memo.decode('k', encodeRecord(response(16)));
    expect(memo.decode('k', new Uint8Array([1, 2, 3, 4, 5]))).to.equal(undefined);
    expect(good).to.not.equal(undefined);
  });
});
