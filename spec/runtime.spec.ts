import { createRequire } from 'node:module';
import { expect } from 'chai';
import * as undici from 'undici';

describe('runtime under test', () => {
  it('uses the undici generation this run was started for', () => {
    // scripts/test.mjs runs the suite on Node 24 with undici 8 and sets CACHETTE_EXPECT_UNDICI=8.
    const isUndici8 = typeof (undici as Record<string, unknown>)['Dispatcher1Wrapper'] === 'function';
    expect(isUndici8).to.equal(process.env['CACHETTE_EXPECT_UNDICI'] === '8');
  });

  it('uses a better-sqlite3 that works on this Node (13 on Node 24, whose ObjectWrap change aborts 12)', () => {
    const { version } = createRequire(import.meta.url)('better-sqlite3/package.json') as { version: string };
    expect(Number(version.split('.')[0])).to.equal(process.env['CACHETTE_EXPECT_UNDICI'] === '8' ? 13 : 12);
  });
});
