/**
 * `cachette`, the command line: what is in a cache, how it fares, purge it,
 * move it. Arguments are read with Node's own `util.parseArgs` (no
 * dependency). Exit codes: 0 done, 1 the storage failed, 2 a usage error
 * (the message says what to write instead), 3 nothing found (`show`),
 * 4 a purge of everything refused (no `--yes`, no terminal to ask).
 */

import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { createCache, type HttpCache, type TransferResult } from '../cache.js';
import { jsonLine, printable } from '../printable.js';
import type { EntryFilter, EntryInfo, EntryState } from '../records/inspect.js';
import { isTag } from '../records/tags.js';
import { openStorage, StorageSetupError, UsageError } from './storage-url.js';

const EXIT = { ok: 0, failed: 1, usage: 2, notFound: 3, refused: 4 } as const;

/** Where the CLI writes, and whether a person is watching (tests pass their own). */
export interface Terminal {
  out: Writable & { isTTY?: boolean };
  err: Writable & { isTTY?: boolean };
  in: Readable & { isTTY?: boolean };
}

const HELP = `Usage: cachette <command> --storage <url> [options]

Storages:
  sqlite:./http.db
  dynamodb://table?region=eu-west-1[&endpoint=http://localhost:8000][&shards=8]
  redis://127.0.0.1:6379[?keyPrefix=cachette:]
  redis+cluster://10.0.0.1:6379,10.0.0.2:6379[?keyPrefix=cachette:]   (a cluster: any of its nodes)
  (or the CACHETTE_STORAGE environment variable)

Commands:
  stats                     how many entries, in which state, how many bytes, per host
  ls                        list entries   [--url <prefix|glob>] [--state fresh|stale|unusable] [--tag <tag>] [--limit <n>]
  show <url>                the entry (or variants) stored for a URL   [--header "name: value"]...
  purge                     delete entries: --url <url> | --prefix <prefix|glob> | --tag <tag>... |
                            --expired | --older-than <30s|15m|12h|7d> | --all (asks, unless --yes)
                            --soft: make --url, --prefix and --tag entries stale instead (revalidated on next use)
  export                    write every usable entry to --output <file> (default: standard output)
                            [--format cachette|text|har]: text is sorted JSON Lines to commit, har is HAR 1.2
  import                    load an export, a text recording or a HAR from --input <file> (default: standard input)
                            [--create-table]
  copy --to <url>           copy every usable entry to another storage   [--to-namespace <ns>] [--create-table]

  import and copy make a new SQLite file when the one named does not exist; a missing
  DynamoDB table is made only with --create-table (on-demand billing, TTL on).

Options:
  --namespace <ns>          the cache's namespace (createCache({ namespace }))
  --json                    output for scripts (one JSON object per line for ls)
  --help                    this text

Exit codes: 0 done, 1 storage failure, 2 usage error, 3 nothing found, 4 purge of everything refused.`;

const OPTIONS = {
  storage: { type: 'string' },
  namespace: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  url: { type: 'string' },
  prefix: { type: 'string' },
  state: { type: 'string' },
  tag: { type: 'string', multiple: true },
  limit: { type: 'string' },
  header: { type: 'string', multiple: true },
  expired: { type: 'boolean' },
  'older-than': { type: 'string' },
  all: { type: 'boolean' },
  soft: { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  output: { type: 'string', short: 'o' },
  format: { type: 'string' },
  input: { type: 'string', short: 'i' },
  to: { type: 'string' },
  'to-namespace': { type: 'string' },
  'create-table': { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** Runs one command line; resolves to its exit code (it never calls process.exit). */
export async function main(argv: string[], terminal: Terminal, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true }));
  } catch (error) {
    return fail(terminal, EXIT.usage, `${(error as Error).message}\nRun cachette --help for the commands and options.`);
  }
  const [command, ...rest] = positionals;
  if (values.help === true || command === undefined || command === 'help') {
    terminal.out.write(`${HELP}\n`);
    return command === undefined && values.help !== true ? EXIT.usage : EXIT.ok;
  }
  const run = COMMANDS[command];
  if (run === undefined) return fail(terminal, EXIT.usage, `unknown command ${JSON.stringify(command)} (known: ${Object.keys(COMMANDS).join(', ')})`);

  let cache: HttpCache | undefined;
  try {
    const storageUrl = values.storage ?? env['CACHETTE_STORAGE'];
    if (storageUrl === undefined) throw new UsageError('name the storage: --storage sqlite:./http.db (or set CACHETTE_STORAGE)');
    // An import fills a storage: it may be a new one. Every other command reads a cache that exists.
    const create = command === 'import' ? { create: true, createTable: values['create-table'] === true } : undefined;
    cache = createCache({ storage: await openStorage(storageUrl, create), ...(values.namespace === undefined ? {} : { namespace: values.namespace }) });
    return await run({ cache, values, args: rest, terminal });
  } catch (error) {
    if (error instanceof UsageError || error instanceof TypeError) return fail(terminal, EXIT.usage, error.message);
    if (error instanceof StorageSetupError) return fail(terminal, EXIT.failed, error.message);
    return fail(terminal, EXIT.failed, `the storage failed: ${(error as Error)?.message ?? String(error)}`);
  } finally {
    await cache?.close().catch(() => undefined);
  }
}

interface Run {
  cache: HttpCache;
  values: Values;
  args: string[];
  terminal: Terminal;
}

const COMMANDS: Record<string, (run: Run) => Promise<number>> = {
  stats,
  ls,
  show,
  purge,
  export: exportCommand,
  import: importCommand,
  copy,
};

async function stats({ cache, values, terminal }: Run): Promise<number> {
  const totals = { entries: 0, fresh: 0, stale: 0, unusable: 0, bytes: 0, oldest: null as string | null, newest: null as string | null };
  const hosts = new Map<string, { entries: number; bytes: number }>();
  const progress = new Progress(terminal, 'entries read');
  for await (const entry of cache.entries()) {
    totals.entries += 1;
    totals[entry.state] += 1;
    totals.bytes += entry.size;
    const stored = entry.storedAt.toISOString();
    if (totals.oldest === null || stored < totals.oldest) totals.oldest = stored;
    if (totals.newest === null || stored > totals.newest) totals.newest = stored;
    const host = hostOf(entry.url);
    const seen = hosts.get(host) ?? { entries: 0, bytes: 0 };
    seen.entries += 1;
    seen.bytes += entry.size;
    hosts.set(host, seen);
    progress.tick(totals.entries);
  }
  progress.done();
  const byHost = Object.fromEntries([...hosts].sort((a, b) => b[1].entries - a[1].entries));
  if (values.json === true) {
    terminal.out.write(`${jsonLine({ ...totals, hosts: byHost })}\n`);
    return EXIT.ok;
  }
  const lines = [
    `entries   ${totals.entries} (${totals.fresh} fresh, ${totals.stale} stale, ${totals.unusable} unusable)`,
    `bytes     ${bytes(totals.bytes)} of bodies`,
    `stored    ${totals.oldest ?? '-'} … ${totals.newest ?? '-'}`,
    ...Object.entries(byHost).map(([host, seen]) => `  ${host}  ${seen.entries} entries, ${bytes(seen.bytes)}`),
    '(hits, misses and the hit ratio are counted by each running cache: cache.stats())',
  ];
  say(terminal.out, lines);
  return EXIT.ok;
}

async function ls({ cache, values, terminal }: Run): Promise<number> {
  const limit = values.limit === undefined ? Number.POSITIVE_INFINITY : Number(values.limit);
  if (!(Number.isInteger(limit) && limit > 0) && limit !== Number.POSITIVE_INFINITY)
    throw new UsageError(`--limit must be a positive whole number, got ${values.limit}`);
  let count = 0;
  for await (const entry of cache.entries(filterOf(values))) {
    // The reader went away (`| head`): nothing more to say.
    if (count >= limit || terminal.out.destroyed === true) break;
    count += 1;
    if (values.json === true) terminal.out.write(`${jsonLine(entry)}\n`);
    else say(terminal.out, [describeLine(entry)]);
  }
  if (values.json !== true && terminal.out.isTTY === true) terminal.out.write(`${count} entr${count === 1 ? 'y' : 'ies'}\n`);
  return EXIT.ok;
}

async function show({ cache, values, args, terminal }: Run): Promise<number> {
  const [url] = args;
  if (url === undefined || args.length > 1) throw new UsageError('show takes one URL: cachette show https://api.example.com/users');
  const headers: Record<string, string> = {};
  for (const line of values.header ?? []) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new UsageError(`--header takes "name: value", got ${JSON.stringify(line)}`);
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const entries = await cache.inspect({ url, headers });
  if (values.json === true) terminal.out.write(`${jsonLine(entries)}\n`);
  else if (entries.length === 0) say(terminal.err, [`nothing stored for ${url}`]);
  for (const entry of values.json === true ? [] : entries) {
    const lines = [
      `${entry.method} ${entry.url}`,
      `  status       ${entry.status}`,
      `  state        ${entry.state}`,
      `  size         ${bytes(entry.size)}`,
      `  stored at    ${entry.storedAt.toISOString()}`,
      `  fresh until  ${entry.freshUntil?.toISOString() ?? 'never stale'}`,
      `  usable until ${entry.usableUntil?.toISOString() ?? 'no limit'}`,
      ...(entry.varies === null
        ? []
        : [
            `  varies on    ${Object.entries(entry.varies)
              .map(([name, value]) => `${name}: ${value ?? '(absent)'}`)
              .join('; ')}`,
          ]),
      ...(entry.tags.length === 0 ? [] : [`  tags         ${entry.tags.join(', ')}`]),
      `  key          ${entry.key}`,
    ];
    say(terminal.out, lines);
  }
  return entries.length === 0 ? EXIT.notFound : EXIT.ok;
}

async function purge({ cache, values, terminal }: Run): Promise<number> {
  const chosen = ['url', 'prefix', 'tag', 'expired', 'older-than', 'all'].filter((name) => values[name as keyof Values] !== undefined);
  if (chosen.length === 0) throw new UsageError('purge what? --url, --prefix, --tag, --expired, --older-than or --all');
  if (values.all === true && chosen.length > 1) throw new UsageError('--all purges everything: it takes no other selector');
  const soft = values.soft === true;
  if (soft && (values.all === true || values.expired === true || values['older-than'] !== undefined)) {
    throw new UsageError('--soft makes --url, --prefix and --tag entries stale: --all, --expired and --older-than delete');
  }
  let deleted = 0;
  if (values.all === true) {
    if (values.yes !== true) {
      if (terminal.in.isTTY !== true || terminal.err.isTTY !== true) {
        terminal.err.write('refusing to purge every entry without --yes (no terminal to ask)\n');
        return EXIT.refused;
      }
      const question = createInterface({ input: terminal.in, output: terminal.err });
      const answer = await question.question('Purge every entry of this cache? [y/N] ');
      question.close();
      if (!/^y(es)?$/i.test(answer.trim())) {
        terminal.err.write('nothing purged\n');
        return EXIT.refused;
      }
    }
    for await (const _ of cache.entries()) deleted += 1;
    await cache.clear();
  } else {
    const tags = values.tag ?? [];
    const bad = tags.find((tag) => !isTag(tag));
    if (bad !== undefined) throw new UsageError(`not a tag: ${JSON.stringify(bad)} (1 to 128 printable characters, no space or comma)`);
    deleted = await cache.delete({
      ...(values.url === undefined ? {} : { entries: [values.url] }),
      ...(tags.length === 0 ? {} : { tags }),
      ...(values.prefix === undefined ? {} : { matching: { url: values.prefix } }),
      ...(values.expired === true ? { expired: true } : {}),
      ...(values['older-than'] === undefined ? {} : { olderThan: duration(values['older-than']) }),
      ...(soft ? { soft } : {}),
    });
  }
  if (soft) terminal.out.write(values.json === true ? `${jsonLine({ stale: deleted })}\n` : `${deleted} response${deleted === 1 ? '' : 's'} made stale\n`);
  else terminal.out.write(values.json === true ? `${jsonLine({ deleted })}\n` : `${deleted} record${deleted === 1 ? '' : 's'} deleted\n`);
  return EXIT.ok;
}

async function exportCommand({ cache, values, terminal }: Run): Promise<number> {
  const file = values.output === undefined ? undefined : createWriteStream(values.output, { mode: 0o600 });
  const out = file ?? terminal.out;
  const progress = new Progress(terminal, 'records exported', file === undefined && terminal.out.isTTY === true);
  const format = values.format ?? 'cachette';
  if (format !== 'cachette' && format !== 'text' && format !== 'har')
    throw new UsageError(`--format takes cachette, text or har, got ${JSON.stringify(format)}`);
  const { records, skipped } = await cache.export(out, { format, onProgress: (count) => progress.tick(count) });
  progress.done();
  if (file !== undefined) {
    file.end();
    await finished(file);
  }
  const summary =
    values.json === true
      ? jsonLine({ records, skipped })
      : printable(
          `${records} records exported${file === undefined ? '' : ` to ${values.output}`}${skipped > 0 ? `, ${skipped} skipped (expired or unreadable)` : ''}`,
        );
  (file === undefined ? terminal.err : terminal.out).write(`${summary}\n`);
  return EXIT.ok;
}

async function importCommand({ cache, values, terminal }: Run): Promise<number> {
  const input = values.input === undefined ? terminal.in : createReadStream(values.input);
  return transfer({ values, terminal }, 'read', 'imported', (onProgress) => cache.import(input, { onProgress }));
}

async function copy({ cache, values, terminal }: Run): Promise<number> {
  if (values.to === undefined) throw new UsageError('copy needs a target: --to sqlite:./copy.db');
  const namespace = values['to-namespace'] ?? values.namespace;
  const target = createCache({
    storage: await openStorage(values.to, { create: true, createTable: values['create-table'] === true }),
    ...(namespace === undefined ? {} : { namespace }),
  });
  try {
    return await transfer({ values, terminal }, 'copied', 'copied', (onProgress) => cache.copyTo(target, { onProgress }));
  } finally {
    await target.close();
  }
}

/** Runs an import or a copy with its progress on the terminal, then reports what was loaded and skipped. */
async function transfer(
  { values, terminal }: Pick<Run, 'values' | 'terminal'>,
  passing: string,
  done: string,
  run: (onProgress: (count: number) => void) => Promise<TransferResult>,
): Promise<number> {
  const progress = new Progress(terminal, `records ${passing}`);
  const result = await run((count) => progress.tick(count));
  progress.done();
  terminal.out.write(
    values.json === true ? `${jsonLine(result)}\n` : `${result.records} records ${done}, ${result.skipped} skipped (expired, unreadable or too large)\n`,
  );
  return EXIT.ok;
}

function filterOf(values: Values): EntryFilter {
  const filter: EntryFilter = {};
  if (values.url !== undefined) filter.url = values.url;
  if (values.prefix !== undefined) filter.url = values.prefix;
  if (values.state !== undefined) {
    if (!['fresh', 'stale', 'unusable'].includes(values.state)) throw new UsageError(`--state must be fresh, stale or unusable, got ${values.state}`);
    filter.state = values.state as EntryState;
  }
  const tags = values.tag;
  if (tags !== undefined) filter.where = (entry) => tags.some((tag) => entry.tags.includes(tag));
  return filter;
}

/** Seconds from "90", "30s", "15m", "12h" or "7d". */
function duration(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (match === null) throw new UsageError(`--older-than takes a duration such as 30s, 15m, 12h or 7d, got ${JSON.stringify(text)}`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

function describeLine(entry: EntryInfo): string {
  return [entry.state.padEnd(8), String(entry.status), bytes(entry.size).padStart(9), entry.storedAt.toISOString(), entry.method, entry.url]
    .concat(entry.tags.length === 0 ? [] : [`[${entry.tags.join(',')}]`])
    .join('  ');
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(unknown)';
  }
}

function bytes(count: number): string {
  if (count < 1024) return `${count} B`;
  if (count < 1024 * 1024) return `${(count / 1024).toFixed(1)} KiB`;
  return `${(count / 1024 / 1024).toFixed(1)} MiB`;
}

/** A count on one line of the terminal (standard error) while a long operation runs; nothing when no one watches. */
class Progress {
  readonly #terminal: Terminal;
  readonly #label: string;
  readonly #shown: boolean;
  #last = 0;

  constructor(terminal: Terminal, label: string, shown = terminal.err.isTTY === true) {
    this.#terminal = terminal;
    this.#label = label;
    this.#shown = shown && terminal.err.isTTY === true;
  }

  tick(count: number): void {
    if (!this.#shown || count - this.#last < 100) return;
    this.#last = count;
    this.#terminal.err.write(`\r${count} ${this.#label}…`);
  }

  done(): void {
    if (this.#shown && this.#last > 0) this.#terminal.err.write('\r\x1b[K');
  }
}

function fail(terminal: Terminal, code: number, message: string): number {
  say(terminal.err, [`cachette: ${message}`]);
  return code;
}

/** Writes lines of text to the terminal, each with its unprintable characters escaped (see printable.ts). */
function say(out: Writable, lines: readonly string[]): void {
  out.write(`${lines.map(printable).join('\n')}\n`);
}
