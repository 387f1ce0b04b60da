/**
 * cachette/testing, the published conformance suite: it passes a correct
 * storage (every backend's spec runs it) and fails a wrong one, naming what.
 */
import { expect } from 'chai';
import { plainView } from '../../fixtures/storage-views.js';
import type { HeldValue, Offering, Partition, SetOptions, Storage } from '../../lib/storage/contract.js';
import { MemoryStorage } from '../../lib/storage/memory.js';
import { storageConformanceTests } from '../../lib/testing.js';

/** A MemoryStorage whose reads ignore expiry: a storage bug the suite must catch. */
class ForgetsExpiry implements Storage {
  readonly #inner = new MemoryStorage();
  partition(name: string): Partition {
    const inner = this.#inner.partition(name);
    return new Proxy(inner, {
      get: (target, property, receiver) => {
        if (property === 'set') return (key: string, value: Uint8Array) => target.set(key, value);
        // A plain storage: none of MemoryStorage's capabilities (its sweeps read the expiries this one drops).
        if (property === 'capabilities') return {};
        if (['getSync', 'hold', 'getHeld', 'deleteExpired', 'deleteCreatedBefore'].includes(String(property))) return undefined;
        const member = Reflect.get(target, property, receiver);
        return typeof member === 'function' ? member.bind(target) : member;
      },
    });
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

describe('cachette/testing', () => {
  it('fails a storage that keeps values past their expiresAt, and says which case', async () => {
    const failed: string[] = [];
    for (const check of storageConformanceTests({ create: () => new ForgetsExpiry() })) {
      await check.run().catch(() => failed.push(`${check.suite}: ${check.name}`));
    }
    expect(failed).to.include('expiresAt: hides values past expiresAt from every read');
    expect(failed.every((name) => name.startsWith('expiresAt: '))).to.equal(true);
  });

  it('a capability claimed but not offered fails its case', async () => {
    const [leases] = storageConformanceTests({ create: () => new MemoryStorage(), capabilities: { leases: true } }).filter(
      (check) => check.suite === 'optional: leases',
    );
    let error: unknown;
    await leases?.run().catch((caught: unknown) => {
      error = caught;
    });
    expect((error as Error | undefined)?.message).to.match(/capabilities\.leases is expected, but the storage does not declare it/);
  });

  it("fails a storage that makes a held value's bytes at once (it would encode every miss)", async () => {
    const eager = (): Storage => {
      const inner = new MemoryStorage();
      return {
        partition: (name) => {
          const partition = inner.partition(name) as Offering<'heldValues'>;
          return {
            ...plainView(partition),
            capabilities: { syncReads: true, heldValues: true },
            getSync: (key: string) => partition.getSync(key),
            getHeld: (key: string) => partition.getHeld(key),
            hold: (key: string, value: HeldValue, opts?: SetOptions) => partition.set(key, value.encode(), opts),
          };
        },
        close: () => inner.close(),
      };
    };
    const [held] = storageConformanceTests({ create: eager, capabilities: { heldValues: true } }).filter((check) => check.suite === 'optional: held values');
    let error: unknown;
    await held?.run().catch((caught: unknown) => {
      error = caught;
    });
    expect((error as Error | undefined)?.message).to.match(/getHeld gives the value back as it was held/);
  });

  it('takes a create function, or says so', () => {
    expect(() => storageConformanceTests({} as never)).to.throw(TypeError, /create/);
  });
});
