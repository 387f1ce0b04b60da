/**
 * Recording modes (recording.ts): what each mode reads from the recording and
 * adds to it, counted in origin requests and stored entries.
 */
import { expect } from 'chai';
import { respond } from '../../fixtures/origin.js';
import { type HttpCache, rawPartitions } from '../../lib/cache.js';
import type { CacheOptions } from '../../lib/options.js';
import { RecordingMissError } from '../../lib/recording.js';
import { useOrigin } from '../support.js';

describe('recording modes', () => {
  const env = useOrigin({ clock: true });
  let version: number;
  let failing: boolean;

  beforeEach(() => {
    version = 1;
    failing = false;
    // What a test suite records: an API that says not to cache anything.
    env.origin.route('/api', (_req, res) => {
      if (failing) {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('down');
        return;
      }
      res.writeHead(200, { 'cache-control': 'no-store, private', 'content-type': 'application/json', vary: 'User-Agent', 'set-cookie': 'session=s3cr3t' });
      res.end(JSON.stringify({ version }));
    });
    env.origin.route('/missing', respond(404, { 'content-type': 'text/plain' }, 'no such thing'));
    env.origin.route('/echo', (req, res, body) => {
      res.writeHead(201, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ method: req.method, got: body.toString(), version }));
    });
  });

  const url = (path: string) => `${env.origin.url}${path}`;

  async function get(cache: HttpCache, path: string, init?: RequestInit): Promise<{ status: number; body: string; cookie: string | null }> {
    const response = await cache.fetch(url(path), init as never);
    const body = await response.text();
    await cache.settled();
    return { status: response.status, body, cookie: response.headers.get('set-cookie') };
  }

  /** A cache over the storage of another, in another mode (what a later run of a test suite is). */
  function later(first: HttpCache, options: CacheOptions): HttpCache {
    return env.cache({ storage: rawPartitions(first).storage, ...options });
  }

  async function missOf(work: Promise<unknown>): Promise<RecordingMissError> {
    const error = await work.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error, 'the request should have failed').to.be.instanceOf(Error);
    const cause = (error as Error & { cause?: unknown }).cause ?? error;
    expect(cause).to.be.instanceOf(RecordingMissError);
    return cause as RecordingMissError;
  }

  it('record: every request reaches the origin, and every response is kept whatever its caching headers say', async () => {
    const cache = env.cache({ recording: 'record' });
    expect((await get(cache, '/api')).body).to.equal('{"version":1}');
    version = 2;
    expect((await get(cache, '/api')).body).to.equal('{"version":2}');
    expect((await get(cache, '/missing')).status).to.equal(404);
    expect((await get(cache, '/echo', { method: 'POST', body: 'a' })).status).to.equal(201);
    expect(env.origin.hits()).to.equal(4);
    expect(await rawPartitions(cache).responses.size()).to.equal(3);
  });

  it('replay: answers from the recording however old, never asks the origin, and fails a request it does not hold by name', async () => {
    const recorder = env.cache({ recording: 'record' });
    await get(recorder, '/api');
    await get(recorder, '/echo', { method: 'POST', body: 'a' });
    const requests = env.origin.hits();

    const replay = later(recorder, { recording: 'replay' });
    await env.clock.advance(400 * 24 * 3600);
    version = 2;
    expect(await get(replay, '/api')).to.include({ status: 200, body: '{"version":1}' });
    expect(JSON.parse((await get(replay, '/echo', { method: 'POST', body: 'a' })).body)).to.include({ got: 'a', version: 1 });
    expect(env.origin.hits()).to.equal(requests);

    const miss = await missOf(replay.fetch(url('/echo'), { method: 'POST', body: 'b' }));
    expect(miss).to.include({ method: 'POST', url: url('/echo') });
    expect(miss.message)
      .to.include(`POST ${url('/echo')} is not in the recording`)
      .and.include('CACHETTE_RECORDING=replay-or-record');
    // A request the cache would not even look up (fetch's no-store) does not reach the origin either.
    await missOf(replay.fetch(url('/api'), { cache: 'no-store' }));
    expect(env.origin.hits()).to.equal(requests);
    expect(replay.stats().recordingMisses).to.equal(2);
  });

  it('replay-or-record: a request in the recording is answered from it, one not in it is fetched and kept', async () => {
    const cache = env.cache({ recording: 'replay-or-record' });
    expect((await get(cache, '/api')).body).to.equal('{"version":1}');
    version = 2;
    await env.clock.advance(3600);
    expect((await get(cache, '/api')).body).to.equal('{"version":1}');
    expect((await get(cache, '/missing')).status).to.equal(404);
    expect((await get(cache, '/missing')).status).to.equal(404);
    expect(env.origin.hits()).to.equal(2);
  });

  it('update: every request is fetched anew and replaces what is recorded, but a failure keeps the recorded response', async () => {
    const recorder = env.cache({ recording: 'record' });
    await get(recorder, '/api');
    const update = later(recorder, { recording: 'update' });
    version = 2;
    expect((await get(update, '/api')).body).to.equal('{"version":2}');
    failing = true;
    expect(await get(update, '/api')).to.include({ status: 200, body: '{"version":2}' });
    const replay = later(recorder, { recording: 'replay' });
    expect((await get(replay, '/api')).body).to.equal('{"version":2}');
    // record, by contrast, keeps what the origin answered, failures included.
    const again = later(recorder, { recording: 'record' });
    expect((await get(again, '/api')).status).to.equal(503);
    expect((await get(replay, '/api')).status).to.equal(503);
  });

  it('keeps no Set-Cookie, and matches without Vary: a replay from another client finds what was recorded', async () => {
    const recorder = env.cache({ recording: 'record' });
    expect((await get(recorder, '/api', { headers: { 'user-agent': 'recorder/1' } })).cookie).to.equal('session=s3cr3t');
    const replay = later(recorder, { recording: 'replay' });
    expect(await get(replay, '/api', { headers: { 'user-agent': 'ci/2' } })).to.include({ body: '{"version":1}', cookie: null });
  });

  it('exclude: the URLs it names go to the network in every mode, unrecorded', async () => {
    const cache = env.cache({ recording: { mode: 'replay', exclude: [`${env.origin.url}/missing`] } });
    expect((await get(cache, '/missing')).status).to.equal(404);
    expect((await get(cache, '/missing')).status).to.equal(404);
    expect(env.origin.hits()).to.equal(2);
    expect(await rawPartitions(cache).responses.size()).to.equal(0);
    await missOf(cache.fetch(url('/api')));
  });

  it('the mode in CACHETTE_RECORDING wins, for caches that record; a bad one is an error at construction', async () => {
    const saved = process.env['CACHETTE_RECORDING'];
    try {
      process.env['CACHETTE_RECORDING'] = 'replay';
      const cache = env.cache({ recording: 'replay-or-record' });
      await missOf(cache.fetch(url('/api')));
      // A cache without the option is an ordinary cache.
      const plain = env.cache();
      expect((await get(plain, '/missing')).status).to.equal(404);
      process.env['CACHETTE_RECORDING'] = 'rewind';
      expect(() => env.cache({ recording: 'replay' })).to.throw(TypeError, /CACHETTE_RECORDING must be one of .*"rewind"/);
      process.env['CACHETTE_RECORDING'] = 'off';
      const off = env.cache({ recording: 'replay' });
      await get(off, '/api');
      expect(await rawPartitions(off).responses.size()).to.equal(0);
    } finally {
      if (saved === undefined) delete process.env['CACHETTE_RECORDING'];
      else process.env['CACHETTE_RECORDING'] = saved;
    }
  });

  it('rejects a bad recording option by name', () => {
    expect(() => env.cache({ recording: 'rewind' as never })).to.throw(TypeError, /recording.mode must be one of/);
    expect(() => env.cache({ recording: { mode: 'record', only: [] } as never })).to.throw(TypeError, /unknown option recording.only/);
    expect(() => env.cache({ recording: { mode: 'record', exclude: [''] } })).to.throw(TypeError, /recording.exclude must be an array of URL globs/);
  });

  it('keys credentialed requests per credential, except by the credential fields named in ignoredParameters', async () => {
    const token = (value: string) => ({ headers: { authorization: `Bearer ${value}` } });
    const isolated = env.cache({ recording: 'record' });
    await get(isolated, '/api', token('real'));
    const other = later(isolated, { recording: 'replay' });
    await missOf(other.fetch(url('/api'), token('dummy')));
    await missOf(other.fetch(url('/api')));

    const recorder = env.cache({ recording: 'record', ignoredParameters: ['authorization'] });
    await get(recorder, '/api', token('real'));
    const replay = later(recorder, { recording: 'replay', ignoredParameters: ['authorization'] });
    expect((await get(replay, '/api', token('dummy'))).body).to.equal('{"version":1}');
    expect((await get(replay, '/api')).body).to.equal('{"version":1}');
  });
});
