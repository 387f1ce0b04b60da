// Loaded with --import for the Node 24 run. Every import or require of a peer
// dependency resolves to the generation meant for Node 24, installed under an
// alias devDependency:
//   undici          → "undici-v8"          (undici 8 needs Node >= 22.19)
//   better-sqlite3  → "better-sqlite3-v13" (12.x aborts on Node >= 24.19: its
//                     Statement destructor trips a Node assertion; 13 is Node-API)
// Synchronous hooks (module.registerHooks) cover require() as well as import,
// and child processes inherit them through NODE_OPTIONS.
import { registerHooks } from 'node:module';

const aliases = { undici: 'undici-v8', 'better-sqlite3': 'better-sqlite3-v13' };

registerHooks({
  resolve(specifier, context, next) {
    for (const [name, alias] of Object.entries(aliases)) {
      if (specifier === name || specifier.startsWith(`${name}/`)) {
        return next(alias + specifier.slice(name.length), context);
      }
    }
    return next(specifier, context);
  },
});
