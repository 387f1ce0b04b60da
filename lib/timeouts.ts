/**
 * Every deadline option of every entry point is `timeouts: { … }` in
 * seconds. One reader checks them all, so the cache, DynamoDBStorage and
 * UndiciCacheStore refuse the same mistakes with the same words.
 */
import { describe } from './describe.js';

/** Longer than this, a deadline is no deadline: a value in milliseconds, likely (0.1's unit). */
const MAX_TIMEOUT_S = 3600;

/**
 * The `timeouts` option of `owner` ("" for the cache itself), in
 * milliseconds, with `defaults` (seconds) for what it leaves out. Unknown
 * names, non-positive values and values past an hour are refused.
 */
export function timeoutsInMs<Name extends string>(owner: string, value: unknown, defaults: Record<Name, number>): Record<Name, number> {
  const names = Object.keys(defaults) as Name[];
  const label = `${owner === '' ? '' : `${owner} `}timeouts`;
  const given = (value ?? {}) as Partial<Record<Name, unknown>>;
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new TypeError(`${label} must be { ${names.join(', ')} } in seconds, got ${describe(value)}`);
  }
  for (const name of Object.keys(given)) {
    if (!names.includes(name as Name)) throw new TypeError(`unknown option ${label}.${name} (known: ${names.join(', ')})`);
  }
  const resolved = {} as Record<Name, number>;
  for (const name of names) {
    const chosen = given[name] ?? defaults[name];
    if (typeof chosen !== 'number' || !(chosen > 0)) {
      throw new TypeError(`${label}.${name} must be a positive number of seconds (or Infinity), got ${describe(chosen)}`);
    }
    if (chosen > MAX_TIMEOUT_S && Number.isFinite(chosen)) {
      throw new TypeError(`${label}.${name} is in seconds: ${chosen} s is more than an hour (for ${chosen} ms, write ${chosen / 1000})`);
    }
    resolved[name] = chosen * 1000;
  }
  return resolved;
}

/** The error for an option of 0.1 that took milliseconds under another name. */
export function renamedTimeout(owner: string, options: object, oldNames: readonly string[], now: string): void {
  for (const old of oldNames) {
    if (old in options) throw new TypeError(`${owner} ${old} (milliseconds) became ${now} (seconds) in 1.0`);
  }
}
