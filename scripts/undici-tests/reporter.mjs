// A node:test reporter for scripts/undici-tests.mjs: one JSON line per test
// (suites left out), with the names of the suites around it, its outcome and,
// when it failed, the first line of the assertion that failed and where.
//
//   node --test --test-reporter=./reporter.mjs --test-reporter-destination=out.jsonl …
import { inspect } from 'node:util';

export default async function* lines(source) {
  // The names of the suites under way, per test file (files may interleave).
  const open = new Map();
  for await (const { type, data } of source) {
    if (type === 'test:start') {
      const names = open.get(data.file) ?? [];
      names.length = data.nesting;
      names.push(data.name);
      open.set(data.file, names);
      continue;
    }
    if (type !== 'test:pass' && type !== 'test:fail') continue;
    if (data.details?.type === 'suite') continue;
    const names = (open.get(data.file) ?? []).slice(0, data.nesting);
    const line = { file: data.file, path: [...names, data.name], status: type === 'test:pass' ? (data.skip ? 'skip' : 'pass') : 'fail' };
    if (type === 'test:fail') Object.assign(line, failure(data.details?.error));
    yield `${JSON.stringify(line)}\n`;
  }
}

/**
 * The assertion behind a failure (node:test wraps it in a cause), on one line,
 * and the test file's line it was thrown at. Errors from a test file's process
 * arrive rebuilt, their stack readable only through inspect().
 */
function failure(error) {
  const text = inspect(error?.cause ?? error, { depth: 1 });
  const [message] = text.split(/\n\s+at /);
  const at = /\((?:[^()]*\/)?(test\/[^():]*\.js:\d+)/.exec(text)?.[1];
  return {
    error: message
      .replace(/,?\s*Symbol\([^)]*\): \d+/g, '')
      .replace(/\s+/g, ' ')
      .slice(0, 300),
    at,
  };
}
