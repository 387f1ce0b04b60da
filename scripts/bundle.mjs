/**
 * What the package ships: each entry point of `exports` bundled from tsc's
 * output (dist/lib, type-checked and what the specs run) into dist/pkg, with
 * the code entry points share in common chunks — one copy of each class
 * however many entry points a program imports, so `instanceof` holds across
 * them. Packages stay external (undici, msgpackr and the optional peers are
 * the user's to install). A fresh process that imports `cachette` loads
 * three files instead of seventy-odd: the cold start `npm run bench`
 * measures. Source maps lead back to lib/*.ts.
 *
 * The modules those three files hold take Node's built-ins with
 * `process.getBuiltinModule` rather than an import: an import of a built-in
 * makes its ESM namespace, reading every export (node:crypto's loads
 * WebCrypto) — about 1.5 ms of a cold start for the five they use.
 * spec/package.spec.ts checks both.
 *
 *   node scripts/bundle.mjs    (npm run build runs it after tsc)
 */
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
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

/** What every build of the package shares. */
const options = {
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
};

const main = join(root, 'dist/lib/index.js');
/** Entry points a program may import without loading `cachette` itself: what a backend or undici's own cache needs, and no more. */
const light = ['dynamodb.js', 'redis.js', 'sqlite.js', 'undici-store.js', 'otel.js'].map((name) => join(root, 'dist/lib', name));

// esbuild puts each module in the chunk of the set of entry points (static, or imported lazily) that reach it: the
// main entry's ~80 modules fell in ten files, each one more to read, compile and link when a program starts. Two
// imports added at build time make two sets of them: every entry point and lazy module that loads most of the main
// entry anyway imports it whole, and every other one imports the modules it shares with the main entry. The main
// entry then loads three files — its own, the modules only it needs, the modules the light entries share — and a
// light entry loads no more of it than before, but the shared modules.
const { metafile } = await build({ ...options, entryPoints, write: false, metafile: true });
const lazy = Object.values(metafile.inputs).flatMap((input) =>
  input.imports.filter((edge) => edge.kind === 'dynamic-import' && !edge.external).map((edge) => join(root, edge.path)),
);
/** The modules the given ones load at once (their static imports, transitively). */
function reached(from) {
  const seen = new Set();
  const stack = [...from];
  while (stack.length > 0) {
    const file = stack.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    const input = metafile.inputs[relative(root, file)];
    if (input === undefined) throw new Error(`bundle: no module ${file} in esbuild's graph`);
    for (const edge of input.imports) if (edge.kind === 'import-statement' && !edge.external) stack.push(join(root, edge.path));
  }
  return seen;
}
const lightGraph = reached(light);
const shared = new Set([...reached([main])].filter((file) => lightGraph.has(file)));
/** What each entry point or lazy module imports besides its own imports. */
const joins = new Map(
  [...entryPoints, ...new Set(lazy)].flatMap((file) => {
    if (file === main) return [];
    if (!lightGraph.has(file)) return [[file, 'cachette:main']];
    // One that shares none (OpenTelemetry's) stays as light as it was.
    return [...reached([file])].some((module) => shared.has(module)) ? [[file, 'cachette:shared']] : [];
  }),
);

rmSync(join(root, 'dist/pkg'), { recursive: true, force: true });
await build({
  ...options,
  entryPoints,
  // The added imports load nothing of their own (every module is side-effect free): esbuild drops them from the
  // output, as it says, once they have placed the modules.
  logOverride: { 'ignored-bare-import': 'silent' },
  plugins: [
    {
      name: 'fewer-chunks',
      setup(builder) {
        builder.onResolve({ filter: /^cachette:main$/ }, () => ({ path: main }));
        builder.onResolve({ filter: /^cachette:shared$/ }, () => ({ path: 'shared', namespace: 'cachette' }));
        builder.onLoad({ filter: /^shared$/, namespace: 'cachette' }, () => ({
          contents: [...shared].map((file) => `import ${JSON.stringify(file)};`).join('\n'),
          loader: 'js',
          resolveDir: root,
        }));
        builder.onLoad({ filter: /\.js$/ }, (args) => {
          const added = joins.get(args.path);
          if (added === undefined) return undefined;
          const source = readFileSync(args.path, 'utf8');
          // Before the source map's comment: no line of tsc's output moves, so its map still holds.
          const at = source.lastIndexOf('//# sourceMappingURL=');
          const cut = at === -1 ? source.length : at;
          return { contents: `${source.slice(0, cut)}import "${added}";\n${source.slice(cut)}`, loader: 'js', resolveDir: dirname(args.path) };
        });
      },
    },
  ],
});
