/**
 * What the package ships: each entry point of `exports` bundled from tsc's
 * output (dist/lib, type-checked and what the specs run) into dist/pkg, with
 * the code entry points share in common chunks — one copy of each class
 * however many entry points a program imports, so `instanceof` holds across
 * them. Packages stay external (undici, msgpackr and the optional peers are
 * the user's to install). A fresh process loads a handful of files instead
 * of seventy-odd: the cold start `npm run bench` measures. Source maps lead
 * back to lib/*.ts.
 *
 *   node scripts/bundle.mjs    (npm run build runs it after tsc)
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** dist/pkg/x.js (what `exports` and `bin` name) is built from dist/lib/x.js. */
const shipped = [
  ...Object.values(manifest.exports).flatMap((target) => (typeof target === 'object' && typeof target.default === 'string' ? [target.default] : [])),
  ...Object.values(manifest.bin ?? {}),
].map((path) => path.replace(/^\.\//, ''));
const entryPoints = shipped.map((path) => {
  if (!path.startsWith('dist/pkg/')) throw new Error(`package.json names ${path}: shipped code lives in dist/pkg/`);
  return join(root, 'dist/lib', path.slice('dist/pkg/'.length));
});

rmSync(join(root, 'dist/pkg'), { recursive: true, force: true });
await build({
  entryPoints,
  outbase: join(root, 'dist/lib'),
  outdir: join(root, 'dist/pkg'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  // Less to parse at start; names kept, so stack traces read as the source does (and the maps lead back to it).
  minifyWhitespace: true,
  minifySyntax: true,
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
});
