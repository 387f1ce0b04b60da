/** KeyedQueue: read-modify-write updates of one key run one at a time, in order; other keys do not wait. */
import { expect } from 'chai';
import { KeyedQueue } from '../lib/keyed-queue.js';

describe('KeyedQueue', () => {
  it('runs the work of one key in the order it was queued, each after the last has settled', async () => {
    const queue = new KeyedQueue();
    const stored: number[] = [];
    let value = 0;
    // Read, wait a turn, write: without the queue, all three would read 0.
    const update = () =>
      queue.run('k', async () => {
        const read = value;
        await new Promise((resolve) => setImmediate(resolve));
        value = read + 1;
        stored.push(value);
      });
    await Promise.all([update(), update(), update()]);
    expect(stored).to.deep.equal([1, 2, 3]);
    expect(queue.size).to.equal(0);
  });

  it("a failure is its caller's: the next piece of work runs, and other keys never wait", async () => {
    const queue = new KeyedQueue();
    const order: string[] = [];
    let release: () => void = () => undefined;
    const held = queue.run('a', () => new Promise<void>((resolve) => (release = resolve)).then(() => order.push('a1')) as Promise<unknown>);
    const failed = queue.run('a', async () => {
      throw new Error('boom');
    });
    const after = queue.run('a', async () => order.push('a3'));
    await queue.run('b', async () => order.push('b1'));
    expect(order).to.deep.equal(['b1']);
    release();
    await held;
    await failed.catch((error: Error) => expect(error.message).to.equal('boom'));
    await after;
    await queue.drained();
    expect(order).to.deep.equal(['b1', 'a1', 'a3']);
    expect(queue.size).to.equal(0);
  });
});
