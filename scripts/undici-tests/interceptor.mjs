// Loaded with --import into each of undici's interceptor test files by
// scripts/undici-tests.mjs: undici's `interceptors.cache` becomes cachette's
// interceptor, and cachette uses the undici of the checkout (one undici in
// the process, the one under test). undici's options that cachette has are
// passed on under cachette's names; the others (`store`, `origins`) are not
// cachette's, and are left out: docs/undici-tests.md lists the tests that
// need them.
import { createRequire, registerHooks } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const checkout = process.env.UNDICI_CHECKOUT;
const dist = process.env.CACHETTE_DIST;
if (!checkout || !dist) throw new Error('interceptor.mjs is loaded by scripts/undici-tests.mjs, which sets UNDICI_CHECKOUT and CACHETTE_DIST');

const index = join(checkout, 'index.js');
registerHooks({
  resolve(specifier, context, next) {
    if (specifier === 'undici') return next(pathToFileURL(index).href, context);
    return next(specifier, context);
  },
});

const undici = createRequire(index)(index);
const { createCache } = await import(pathToFileURL(join(dist, 'lib', 'index.js')).href);

/** Options of cachette's own every cache gets (JSON), to score a configuration other than the defaults. */
const extra = JSON.parse(process.env.CACHETTE_OPTIONS ?? '{}');

/** undici's cache options, as cachette's. */
function cachetteOptions(options = {}) {
  const mapped = { ...extra };
  if (options.methods !== undefined) mapped.methods = options.methods;
  if (options.type !== undefined) mapped.type = options.type;
  // undici: the seconds a response with no explicit freshness is cached; cachette's expireAfter is just that under cacheControl: true.
  if (options.cacheByDefault !== undefined) mapped.expireAfter = options.cacheByDefault;
  return mapped;
}

undici.interceptors.cache = (options) => createCache(cachetteOptions(options)).interceptor();
