/**
 * The storage conformance suite (lib/testing.ts, published as
 * `cachette/testing`) on mocha: every backend runs it unchanged, from its own
 * `spec/storage/<backend>.spec.ts`.
 */

import { type ConformanceCase, type ConformanceOptions, storageConformanceTests } from '../../lib/testing.js';

export function storageConformance(options: ConformanceOptions): void {
  const groups = new Map<string, ConformanceCase[]>();
  for (const check of storageConformanceTests(options)) {
    const group = groups.get(check.suite) ?? [];
    group.push(check);
    groups.set(check.suite, group);
  }
  for (const [suite, cases] of groups) {
    describe(suite, () => {
      for (const check of cases) {
        it(check.name, function () {
          this.timeout(check.timeoutMs);
          return check.run();
        });
      }
    });
  }
}
