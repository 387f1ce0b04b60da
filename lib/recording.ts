/**
 * Recording modes: the cache as a recorder of an API's traffic for tests,
 * which replays it later without the network. A recording keeps every
 * response whatever its caching headers say, for as long as the recording
 * lives; what a request reads from it depends on the mode:
 *
 * - `record`: every request goes to the origin; its response is kept (a
 *   failure as well: a 500 recorded is a 500 replayed);
 * - `replay`: every request is answered from the recording, however old;
 *   the origin is never asked, and a request not in it is an error;
 * - `replay-or-record`: answered from the recording; a request not in it is
 *   fetched and kept;
 * - `update`: every request goes to the origin and its response replaces
 *   the recorded one, except a failure (no response, a 5xx), which keeps and
 *   answers with the recorded response: a flaky origin never spoils a recording;
 * - `off`: an ordinary HTTP cache.
 *
 * The mode in the environment (`CACHETTE_RECORDING`) wins over the one in
 * the options, for caches that record (that have the `recording` option).
 */
import { describe } from './describe.js';
import { compileGlob, type UrlMatcher } from './policy/glob.js';

export type RecordingMode = 'record' | 'replay' | 'replay-or-record' | 'update' | 'off';

export interface RecordingOptions {
  /** What requests read from the recording and what they add to it (see docs/testing.md). */
  mode: RecordingMode;
  /** URL globs (like `urlsExpireAfter`'s) that the recording leaves alone: they go to the network in every mode, unrecorded. */
  exclude?: string[];
}

export interface ResolvedRecording {
  mode: Exclude<RecordingMode, 'off'>;
  /** Whether a URL is left out of the recording. */
  excluded: (url: string) => boolean;
}

const MODES: ReadonlySet<string> = new Set(['record', 'replay', 'replay-or-record', 'update', 'off']);
const MEMBERS: ReadonlySet<string> = new Set(['mode', 'exclude']);

/** Methods a recording keeps when the options name none: every method of RFC 9110 that has a response worth replaying. */
export const RECORDED_METHODS: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** The recording the options and the environment ask for; undefined when the cache records nothing (or the mode is `off`). */
export function resolveRecording(value: unknown, environment: string | undefined): ResolvedRecording | undefined {
  if (value === undefined) return undefined;
  const options: RecordingOptions = typeof value === 'string' ? { mode: value as RecordingMode } : (value as RecordingOptions);
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`recording must be a mode (${[...MODES].join(', ')}) or { mode, exclude }, got ${describe(value)}`);
  }
  for (const name of Object.keys(options)) {
    if (!MEMBERS.has(name)) throw new TypeError(`unknown option recording.${name} (known: ${[...MEMBERS].join(', ')})`);
  }
  if (typeof options.mode !== 'string' || !MODES.has(options.mode)) {
    throw new TypeError(`recording.mode must be one of ${[...MODES].join(', ')}, got ${describe(options.mode)}`);
  }
  if (environment !== undefined && environment !== '' && !MODES.has(environment)) {
    throw new TypeError(`CACHETTE_RECORDING must be one of ${[...MODES].join(', ')}, got ${describe(environment)}`);
  }
  const mode = (environment === undefined || environment === '' ? options.mode : environment) as RecordingMode;
  const exclude = options.exclude ?? [];
  if (!Array.isArray(exclude) || !exclude.every((pattern) => typeof pattern === 'string' && pattern !== '')) {
    throw new TypeError(`recording.exclude must be an array of URL globs, got ${describe(exclude)}`);
  }
  if (mode === 'off') return undefined;
  const matchers: UrlMatcher[] = exclude.map(compileGlob);
  return { mode, excluded: (url) => matchers.some((matches) => matches(url)) };
}

/**
 * A request a replay cannot answer: it is not in the recording (or it is one
 * the cache does not keep: a method not recorded, a credential bypassed…).
 */
export class RecordingMissError extends Error {
  override readonly name = 'RecordingMissError';
  readonly code = 'CACHETTE_RECORDING_MISS';
  readonly method: string;
  readonly url: string;

  constructor(method: string, url: string) {
    super(
      `${method} ${url} is not in the recording, and recording mode "replay" never asks the origin: ` +
        'record it with CACHETTE_RECORDING=replay-or-record (or recording: { mode: "replay-or-record" }) and run again',
    );
    this.method = method;
    this.url = url;
  }
}
