/**
 * The clients users hand `cache.fetch` to, for real: openai, @octokit/core,
 * ky and ofetch, against a loopback origin that speaks their dialects.
 */

import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Octokit } from '@octokit/core';
import { expect } from 'chai';
import ky from 'ky';
import { ofetch } from 'ofetch';
import OpenAI, { toFile } from 'openai';
import { useOrigin } from '../support.js';

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** The parts of a multipart/form-data body, by name (RFC 7578). */
function multipart(req: IncomingMessage, body: Buffer): Map<string, { filename: string | undefined; bytes: Buffer }> {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(req.headers['content-type'] ?? '');
  const parts = new Map<string, { filename: string | undefined; bytes: Buffer }>();
  if (boundary === null) return parts;
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  let start = body.indexOf(delimiter);
  while (start !== -1) {
    const next = body.indexOf(delimiter, start + delimiter.length);
    if (next === -1) break;
    const part = body.subarray(start + delimiter.length + 2, next - 2); // past CRLF, before CRLF
    const split = part.indexOf('\r\n\r\n');
    const head = part.subarray(0, split).toString('latin1');
    const name = /name="([^"]*)"/.exec(head)?.[1];
    if (name !== undefined) parts.set(name, { filename: /filename="([^"]*)"/.exec(head)?.[1], bytes: part.subarray(split + 4) });
    start = next;
  }
  return parts;
}

describe('the SDKs users hand cache.fetch to', () => {
  const env = useOrigin();

  describe('openai', () => {
    const uploads: Array<{ filename: string | undefined; sha256: string; purpose: string }> = [];

    beforeEach(() => {
      uploads.length = 0;
      // OpenAI's API sends no caching headers: the cache's expireAfter decides.
      env.origin.route('/v1/models', (req, res) => {
        json(res, 200, { object: 'list', data: [{ id: `model-for-${req.headers.authorization}`, object: 'model', created: 1, owned_by: 'test' }] });
      });
      env.origin.route('/v1/files', (req, res, body) => {
        const parts = multipart(req, body);
        const file = parts.get('file');
        uploads.push({
          filename: file?.filename,
          sha256: createHash('sha256')
            .update(file?.bytes ?? Buffer.alloc(0))
            .digest('hex'),
          purpose: parts.get('purpose')?.bytes.toString() ?? '',
        });
        json(res, 200, {
          id: 'file-1',
          object: 'file',
          bytes: file?.bytes.length ?? 0,
          created_at: 1,
          filename: file?.filename,
          purpose: 'assistants',
          status: 'processed',
        });
      });
    });

    const client = (fetch: typeof globalThis.fetch, apiKey = 'sk-alice') => new OpenAI({ apiKey, baseURL: `${env.origin.url}/v1`, fetch, maxRetries: 0 });

    it('credentialed requests bypass the cache by default', async () => {
      const cache = env.cache({ expireAfter: 300 });
      const openai = client(cache.fetch);
      const first = await openai.models.list();
      const second = await openai.models.list();
      expect(second.data).to.deep.equal(first.data);
      expect(env.origin.hits('/v1/models')).to.equal(2);
      const { response } = await openai.models.list().withResponse();
      expect(response.headers.get('cache-status')).to.equal('cachette; fwd=bypass; detail=credentialed');
    });

    it("with credentialed: 'per-credential', each API key gets its own hits, with identical data", async () => {
      const cache = env.cache({ expireAfter: 300, credentialed: 'per-credential' });
      const alice = client(cache.fetch, 'sk-alice');
      const bob = client(cache.fetch, 'sk-bob');
      const fromOrigin = await alice.models.list();
      const { data: hit, response } = await alice.models.list().withResponse();
      expect(response.headers.get('cache-status')).to.match(/^cachette; hit/);
      expect(hit.data).to.deep.equal(fromOrigin.data);
      expect((await bob.models.list()).data[0]?.id).to.equal('model-for-Bearer sk-bob');
      expect((await bob.models.list()).data[0]?.id).to.equal('model-for-Bearer sk-bob');
      expect((await alice.models.list()).data[0]?.id).to.equal('model-for-Bearer sk-alice');
      expect(env.origin.hits('/v1/models')).to.equal(2);
    });

    it('a multipart file upload arrives byte-identical', async () => {
      const cache = env.cache();
      const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 256));
      const uploaded = await client(cache.fetch).files.create({ file: await toFile(bytes, 'training.jsonl'), purpose: 'assistants' });
      expect(uploaded.id).to.equal('file-1');
      expect(uploads).to.deep.equal([{ filename: 'training.jsonl', sha256: createHash('sha256').update(bytes).digest('hex'), purpose: 'assistants' }]);
    });
  });

  describe('@octokit/core', () => {
    let version: string;

    beforeEach(() => {
      version = 'r1';
      // As GitHub answers: private, an ETag, and 304s for conditional requests.
      env.origin.route('/repos/octo/cat', (req, res) => {
        const headers = { etag: `"${version}"`, 'cache-control': 'private, max-age=60, s-maxage=60', vary: 'Accept, Authorization, Cookie' };
        if (req.headers['if-none-match'] === `"${version}"`) {
          res.writeHead(304, headers);
          res.end();
          return;
        }
        // Sixty seconds old already: stale on arrival, kept for revalidation.
        json(res, 200, { full_name: 'octo/cat', version }, { ...headers, age: '60' });
      });
    });

    it('revalidates with its ETag: a 304 becomes the stored 200, and freshens the entry', async () => {
      const cache = env.cache({ credentialed: 'per-credential' });
      const octokit = new Octokit({ auth: 'ghp_token', baseUrl: env.origin.url, request: { fetch: cache.fetch } });
      const first = await octokit.request('GET /repos/{owner}/{repo}', { owner: 'octo', repo: 'cat' });
      const revalidated = await octokit.request('GET /repos/{owner}/{repo}', { owner: 'octo', repo: 'cat' });
      expect(revalidated.status).to.equal(200);
      expect(revalidated.data).to.deep.equal(first.data);
      expect(revalidated.headers['cache-status']).to.match(/^cachette; fwd=stale; fwd-status=304; stored/);
      expect(env.origin.requests[1]?.headers['if-none-match']).to.equal('"r1"');
      // Freshened by the 304's max-age: no origin request at all.
      const hit = await octokit.request('GET /repos/{owner}/{repo}', { owner: 'octo', repo: 'cat' });
      expect(hit.headers['cache-status']).to.match(/^cachette; hit/);
      expect(hit.data).to.deep.equal(first.data);
      expect(env.origin.hits('/repos/octo/cat')).to.equal(2);
    });

    it('a changed resource comes back whole', async () => {
      const cache = env.cache({ credentialed: 'per-credential' });
      const octokit = new Octokit({ auth: 'ghp_token', baseUrl: env.origin.url, request: { fetch: cache.fetch } });
      await octokit.request('GET /repos/{owner}/{repo}', { owner: 'octo', repo: 'cat' });
      version = 'r2';
      const changed = await octokit.request('GET /repos/{owner}/{repo}', { owner: 'octo', repo: 'cat' });
      expect(changed.data).to.deep.equal({ full_name: 'octo/cat', version: 'r2' });
    });
  });

  describe('ky and ofetch', () => {
    beforeEach(() => {
      env.origin.route('/api/items', (req, res) => json(res, 200, { items: [1, 2, 3], query: req.url }, { 'cache-control': 'max-age=60' }));
    });

    it('ky (which passes a Request): hits with identical data', async () => {
      const cache = env.cache();
      const statuses: string[] = [];
      const api = ky.create({
        prefixUrl: `${env.origin.url}/api`,
        fetch: cache.fetch,
        hooks: { afterResponse: [(_request, _options, response) => void statuses.push(response.headers.get('cache-status') ?? '')] },
      });
      const first = await api.get('items', { searchParams: { page: 1 } }).json();
      const second = await api.get('items', { searchParams: { page: 1 } }).json();
      expect(second).to.deep.equal(first);
      expect(statuses[1]).to.match(/^cachette; hit/);
      expect(env.origin.hits('/api/items')).to.equal(1);
    });

    it('ky hands its unknown options to fetch: cachette per request', async () => {
      const cache = env.cache();
      const api = ky.create({ prefixUrl: `${env.origin.url}/api`, fetch: cache.fetch });
      await api.get('items').json();
      await api.get('items', { cachette: { refresh: true } } as Parameters<typeof api.get>[1]).json();
      expect(env.origin.hits('/api/items')).to.equal(2);
    });

    it('ofetch: hits with identical data', async () => {
      const cache = env.cache();
      const api = ofetch.create({ baseURL: `${env.origin.url}/api` }, { fetch: cache.fetch });
      const first = await api('/items', { query: { page: 1 } });
      const raw = await api.raw('/items', { query: { page: 1 } });
      expect(raw._data).to.deep.equal(first);
      expect(raw.headers.get('cache-status')).to.match(/^cachette; hit/);
      expect(env.origin.hits('/api/items')).to.equal(1);
    });
  });
});
