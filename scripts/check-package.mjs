/**
 * What a user installs, checked as they will meet it (publint, in
 * `npm run lint`, reads the manifest against the files): Are The Types Wrong
 * resolves every entry point's types in the packed tarball the way
 * TypeScript does under node16 and bundler settings (an ESM-only package:
 * CommonJS and node10 resolution are not offered).
 * Packs without running `prepare`: the caller has built dist already.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => join(root, 'node_modules', '.bin', name);
const run = (command, args) => execFileSync(command, args, { cwd: root, stdio: 'inherit' });

const folder = mkdtempSync(join(tmpdir(), 'cachette-pack-'));
try {
  execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', folder], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const tarball = readdirSync(folder).find((name) => name.endsWith('.tgz'));
  if (tarball === undefined) throw new Error('npm pack wrote no tarball');
  run(bin('attw'), [join(folder, tarball), '--profile', 'esm-only', '--quiet']);
} finally {
  rmSync(folder, { recursive: true, force: true });
}
console.log('package: the types of every entry point resolve (attw)');
