import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect } from 'chai';
import { Agent, type Dispatcher } from 'undici';
import { respond } from '../../fixtures/origin.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { useOrigin } from '../support.js';

interface Played {
  controller: Dispatcher.DispatchController;
  handler: WeakRef<object>;
  headers: WeakRef<object>;
  rawHeaders: Buffer[] | null | undefined;
}

describe('A response the cache plays, once ended, keeps nothing of its request', () => {
  const env = useOrigin();

  // undici's consumers keep the controller after the end (a body readable's resume and abort callbacks): what it
  // still points to lives on with it, and V8's young generation promotes it (ARCHITECTURE.md, "Memos").
  it("a hit's controller, kept after the end, keeps neither its handler nor the headers it served", async () => {
    setFlagsFromString('--expose-gc');
    const collect = runInNewContext('gc') as () => void;
    env.origin.route('/kept', respond(200, { 'cache-control': 'max-age=60' }, 'x'.repeat(2048)));
    const cache = env.cache({ storage: new MemoryStorage() });
    const agent = new Agent().compose(cache.interceptor());
    const target = new URL(`${env.origin.url}/kept`);
    const play = () =>
      new Promise<Played>((resolve, reject) => {
        let controller: Dispatcher.DispatchController | undefined;
        let headers: WeakRef<object> | undefined;
        const handler: Dispatcher.DispatchHandler = {
          onRequestStart(started) {
            controller = started;
          },
          onResponseStart(_controller, _status, served) {
            headers = new WeakRef(served);
          },
          onResponseEnd(ended) {
            const raw = (ended as { rawHeaders?: Buffer[] | null }).rawHeaders;
            resolve({
              controller: controller as Dispatcher.DispatchController,
              handler: new WeakRef(handler),
              headers: headers as WeakRef<object>,
              rawHeaders: raw,
            });
          },
          onResponseError(_controller, error) {
            reject(error);
          },
        };
        agent.dispatch({ origin: target.origin, path: target.pathname, method: 'GET' }, handler);
      });
    try {
      await play();
      await cache.settled();
      const hit = await play();
      expect(cache.stats().hits).to.equal(1);
      // A WeakRef read keeps its target for the rest of that turn: collected in a turn of its own.
      const gone = (ref: WeakRef<object>) => ref.deref() === undefined;
      for (let turn = 0; turn < 20; turn++) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        collect();
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (gone(hit.handler) && gone(hit.headers)) break;
      }
      expect(hit.handler.deref(), 'the handler').to.equal(undefined);
      expect(hit.headers.deref(), 'the headers served').to.equal(undefined);
      // Still a controller: asked after the end, it answers as before, and stops nothing.
      expect(hit.controller.aborted).to.equal(false);
      expect((hit.controller as { rawHeaders?: unknown }).rawHeaders).to.deep.equal(hit.rawHeaders);
      hit.controller.resume();
      hit.controller.abort(new Error('after the end'));
      expect(env.origin.hits('/kept')).to.equal(1);
    } finally {
      await agent.close();
    }
  });
});
