/**
 * The adapter for each undici major: chosen by undici's own features, and
 * what it does for v1 consumers (undici.request, Node's bundled fetch) on a
 * miss, a hit and a response the cache does not take part in.
 */
import { expect } from 'chai';
import { Agent, type Dispatcher } from 'undici';
import { respond } from '../../fixtures/origin.js';
import { undiciAdapter } from '../../lib/interceptor/undici/index.js';
import { v7 } from '../../lib/interceptor/undici/v7.js';
import { v8 } from '../../lib/interceptor/undici/v8.js';
import { useOrigin } from '../support.js';

/** Dispatches with a v1 handler; the header lines it got (name: value, each as its own line) and its body. */
function viaV1Handler(dispatcher: Dispatcher, origin: string, path: string): Promise<{ lines: string[]; body: string }> {
  return new Promise((resolve, reject) => {
    let lines: string[] = [];
    let body = '';
    dispatcher.dispatch({ origin, path, method: 'GET' }, {
      onConnect: () => undefined,
      onHeaders: (_status: number, raw: Array<Buffer | Buffer[]>) => {
        // A v1 handler must get one flat pair per field line (an array value here is the bug this guards against).
        lines = [];
        for (let i = 0; i < raw.length; i += 2) {
          const value = raw[i + 1];
          lines.push(
            `${(raw[i] as Buffer).toString('latin1').toLowerCase()}: ${Array.isArray(value) ? `[${value.join('|')}]` : (value as Buffer).toString('latin1')}`,
          );
        }
        return true;
      },
      onData: (chunk: Buffer) => {
        body += chunk.toString();
        return true;
      },
      onComplete: () => resolve({ lines, body }),
      onError: reject,
    } as unknown as Dispatcher.DispatchHandler);
  });
}

describe('undici adapters', () => {
  const env = useOrigin();

  it('the adapter is the one for the undici in use', () => {
    expect(undiciAdapter.major).to.equal(Number(process.env['CACHETTE_EXPECT_UNDICI'] ?? '7'));
  });

  for (const [name, options] of [
    ['a miss, then a hit', {}],
    ['a response the cache does not take part in', { disabled: true }],
  ] as const) {
    it(`repeated fields reach a v1 handler as separate lines: ${name}`, async () => {
      env.origin.route('/r', respond(200, { 'cache-control': 'max-age=60', 'set-cookie': ['a=1', 'b=2'], link: ['</a>', '</b>'] }, 'body'));
      const cache = env.cache({ type: 'private', ...options });
      const dispatcher = undiciAdapter.forEveryConsumer(new Agent().compose(cache.interceptor()));
      try {
        for (let attempt = 0; attempt < 2; attempt++) {
          const { lines, body } = await viaV1Handler(dispatcher, env.origin.url, '/r');
          expect(body).to.equal('body');
          expect(lines, `attempt ${attempt}`).to.include.members(['set-cookie: a=1', 'set-cookie: b=2', 'link: </a>', 'link: </b>']);
          await cache.settled();
        }
      } finally {
        await dispatcher.close();
      }
    });
  }

  describe('undici 7', () => {
    it("a handler offering both protocols (undici 7's WrapHandler) gets onHeaders with flat pairs; another gets onResponseStart", () => {
      const calls: string[] = [];
      const controller = { resume() {}, pause: () => calls.push('pause') } as unknown as Dispatcher.DispatchController;
      const both = {
        onHeaders: (status: number, raw: Buffer[]) => {
          calls.push(`onHeaders ${status} ${raw.map(String).join(',')}`);
          return false;
        },
        onResponseStart: () => calls.push('onResponseStart'),
      } as unknown as Dispatcher.DispatchHandler;
      v7.startResponse(both, controller, 200, { 'set-cookie': ['a=1', 'b=2'] }, 'OK');
      v7.startResponse({ onResponseStart: () => calls.push('modern onResponseStart') }, controller, 200, { a: '1' }, 'OK');
      expect(calls).to.deep.equal(['onHeaders 200 set-cookie,a=1,set-cookie,b=2', 'pause', 'modern onResponseStart']);
    });
  });

  describe('undici 8', () => {
    it('hands the parsed headers to onResponseStart, and reads rawHeaders from the controller', () => {
      const seen: unknown[] = [];
      v8.startResponse({ onResponseStart: (_c, status, headers) => seen.push(status, headers) }, {} as Dispatcher.DispatchController, 200, { a: '1' }, 'OK');
      expect(seen).to.deep.equal([200, { a: '1' }]);
      expect(v8.consumersReadRawHeaders).to.equal(true);
    });
  });
});
