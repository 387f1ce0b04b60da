import { expect } from 'chai';
import { updateStoredHeaders } from '../../lib/policy/update.js';

describe('RFC 9111 §3.2: updating stored header fields from a 304', () => {
  const stored = ['content-type', 'text/plain', 'content-length', '3', 'etag', '"v1"', 'age', '40', 'date', 'Mon, 01 Jan 2024 00:00:00 GMT', 'x-a', 'old'];

  it('replaces the fields the 304 carries and keeps the others', () => {
    const updated = updateStoredHeaders(stored, { 'x-a': 'new', 'x-b': 'added', etag: '"v1"' });
    expect(updated['x-a']).to.equal('new');
    expect(updated['x-b']).to.equal('added');
    expect(updated['content-type']).to.equal('text/plain');
  });

  it('never takes Content-Length or connection fields from the 304', () => {
    const updated = updateStoredHeaders(stored, { 'content-length': '999', connection: 'close', 'transfer-encoding': 'chunked' });
    expect(updated['content-length']).to.equal('3');
    expect(updated['connection']).to.equal(undefined);
    expect(updated['transfer-encoding']).to.equal(undefined);
  });

  it('drops the old Age and Date, which described the old response', () => {
    const updated = updateStoredHeaders(stored, {});
    expect(updated['age']).to.equal(undefined);
    expect(updated['date']).to.equal(undefined);
    expect(updateStoredHeaders(stored, { date: 'Tue, 02 Jan 2024 00:00:00 GMT' })['date']).to.equal('Tue, 02 Jan 2024 00:00:00 GMT');
  });
});
