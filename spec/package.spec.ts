import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Runs an ES module snippet in a fresh Node process, from the package root. */
function runModule(source: string): string {
  return execFileSync(process.execPath, ['--input-type=module', '-e', source], { cwd: root, encoding: 'utf8' }).trim();
}

describe('the package', () => {
  const manifest = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as Record<string, any>;

  it('is an ESM package whose exports map names types for each entry point', () => {
    expect(manifest['type']).to.equal('module');
    for (const [entry, target] of Object.entries<Record<string, string> | string>(manifest['exports'])) {
      if (typeof target === 'string') continue;
      expect(target['types'], entry).to.be.a('string');
      expect(existsSync(`${root}${target['types']}`), `${entry} types`).to.equal(true);
      expect(existsSync(`${root}${target['default']}`), `${entry} code`).to.equal(true);
    }
  });

  it('declares undici >= 7 as a peer and Node >= 20.18.1', () => {
    expect(manifest['peerDependencies']['undici']).to.equal('>=7');
    expect(manifest['engines']['node']).to.equal('>=20.18.1');
  });

  it('"cachette" resolves through the exports map and exposes the public API', () => {
    const names = runModule("const m = await import('cachette'); console.log(Object.keys(m).sort().join(','))").split(',');
    expect(names).to.include.members(['createCache', 'HttpCache', 'MemoryStorage', 'StorageRequestError', 'channels']);
  });
});
