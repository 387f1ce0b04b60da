// Loaded with --import for the Node 24 run: every import of "undici" (ours and
// the specs') resolves to undici 8, installed as the devDependency "undici-v8".
import { register } from 'node:module';

register(new URL('./undici8-hooks.mjs', import.meta.url));
