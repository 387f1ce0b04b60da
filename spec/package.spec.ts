import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { NODE_CHILD_FLAGS } from './support.js';

const require = createRequire(import.meta.url);

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Runs an ES module snippet in a fresh Node process, from the package root. */
function runModule(source: string): string {
  return execFileSync(process.execPath, [...NODE_CHILD_FLAGS, '--input-type=module', '-e', source], { cwd: root, encoding: 'utf8' }).trim();
}

describe('the package', () => {
  const manifest = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as {
    type: string;
    exports: Record<string, Record<string, string> | string>;
    peerDependencies: Record<string, string>;
    engines: Record<string, string>;
  };

  it('is an ESM package whose exports map names types for each entry point', () => {
    expect(manifest['type']).to.equal('module');
    for (const [entry, target] of Object.entries(manifest['exports'])) {
      if (typeof target === 'string') continue;
      expect(target['types'], entry).to.be.a('string');
      expect(existsSync(`${root}${target['types']}`), `${entry} types`).to.equal(true);
      expect(existsSync(`${root}${target['default']}`), `${entry} code`).to.equal(true);
    }
  });

  it('declares undici >= 7 as a peer and Node >= 20.18.1', () => {
    expect(manifest['peerDependencies']['undici']).to.equal('>=7');
    expect(manifest['engines']['node']).to.equal('>=20.18.1');
  });

  it('"cachette" resolves through the exports map and exposes the public API', () => {
    const names = runModule("const m = await import('cachette'); console.log(Object.keys(m).sort().join(','))").split(',');
    // HttpCache is a type only: createCache is the one way to make a cache.
    expect(names).to.deep.equal([
      'BasePartition',
      'MemoryStorage',
      'RecordingMissError',
      'StorageDeadlineError',
      'StorageRequestError',
      'channels',
      'createCache',
    ]);
  });
});

describe('optional weight stays optional', () => {
  /** Every bare specifier the module graph of `entry` imports, following our own relative imports. */
  function bareImports(entry: string): Set<string> {
    const seen = new Set<string>();
    const bare = new Set<string>();
    const queue = [entry];
    while (queue.length > 0) {
      const file = queue.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      const source = readFileSync(file, 'utf8');
      for (const match of source.matchAll(
        /(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g,
      )) {
        const specifier = (match[1] ?? match[2] ?? match[3]) as string;
        if (specifier.startsWith('.')) queue.push(fileURLToPath(new URL(specifier, `file://${file}`)));
        else bare.add(specifier);
      }
    }
    return bare;
  }

  it('"cachette" imports neither better-sqlite3, the AWS SDK, OpenTelemetry nor a Redis client', () => {
    const imported = [...bareImports(`${root}dist/pkg/index.js`)];
    expect(imported.filter((name) => name === 'better-sqlite3' || /^@(aws-sdk|opentelemetry|redis)\//.test(name))).to.deep.equal([]);
    const loaded = runModule(`
      import { createRequire } from 'node:module';
      await import('cachette');
      console.log(Object.keys(createRequire(import.meta.url).cache).filter((path) => /better-sqlite3|@aws-sdk|@opentelemetry|@redis/.test(path)).length);
    `);
    expect(loaded).to.equal('0');
  });

  it('msgpackr loads when a storage of bytes needs it: never for a cache on MemoryStorage (a miss, a hit), at once for one on SQLite', () => {
    const folder = mkdtempSync(join(tmpdir(), 'cachette-loads-'));
    try {
      /** The packages a child loads while a cache serves a miss then a hit from a loopback origin. */
      const packagesLoaded = (storage: string): string[] => {
        const file = join(folder, 'loads.txt');
        writeFileSync(file, '');
        execFileSync(
          process.execPath,
          [
            ...NODE_CHILD_FLAGS,
            '--import',
            `${root}bench/trace-loads.mjs`,
            '--input-type=module',
            '-e',
            `
            import { createServer } from 'node:http';
            const { createCache } = await import('cachette');
            const storage = ${storage};
            const server = createServer((_, res) => res.writeHead(200, { 'cache-control': 'max-age=60' }).end('x'.repeat(4096)));
            await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
            const cache = createCache({ storage });
            const url = 'http://127.0.0.1:' + server.address().port + '/';
            for (let i = 0; i < 2; i++) await (await cache.fetch(url)).text();
            await cache.close();
            server.close();
          `,
          ],
          { cwd: root, env: { ...process.env, CACHETTE_TRACE_LOADS: file } },
        );
        return [...new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean))];
      };
      expect(packagesLoaded('undefined')).to.not.include('msgpackr');
      const sqlite = `new (await import('cachette/sqlite')).SqliteStorage({ path: ${JSON.stringify(join(folder, 'cache.db'))} })`;
      expect(packagesLoaded(sqlite)).to.include('msgpackr');
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('a record encoded or decoded before msgpackr has loaded loads it at once (no path that skipped loadCodec fails)', () => {
    const out = runModule(`
      const codec = await import(${JSON.stringify(`${root}dist/lib/records/codec.js`)});
      const before = codec.codecLoaded();
      const record = { kind: 'aliases', expiresAt: null, keys: ['a', 'b'] };
      const again = codec.decodeRecord(codec.encodeRecord(record));
      console.log(JSON.stringify([before, again, codec.codecLoaded()]));
    `);
    expect(JSON.parse(out)).to.deep.equal([false, { kind: 'aliases', expiresAt: null, keys: ['a', 'b'] }, true]);
  });

  it('each entry point ships as a bundle: "cachette" is three files, not the seventy-odd modules of lib/, and a backend alone loads no cache', () => {
    /** The files of ours an import of `entry` loads before it returns (static imports; a dynamic one loads when asked). */
    const loadedAtOnce = (entry: string, seen = new Set<string>()): Set<string> => {
      if (seen.has(entry)) return seen;
      seen.add(entry);
      for (const match of readFileSync(entry, 'utf8').matchAll(/(?:^|[;}\s])(?:import|export)\s*(?:[^'"()]*?from\s*)?['"](\.[^'"]+)['"]/g)) {
        loadedAtOnce(fileURLToPath(new URL(match[1] as string, `file://${entry}`)), seen);
      }
      return seen;
    };
    // Each file is one more to resolve, read, compile and link at start: "cachette" is its own, the code only it
    // needs, and the code it shares with the light entry points (scripts/bundle.mjs).
    expect(loadedAtOnce(`${root}dist/pkg/index.js`).size).to.be.at.most(3);
    for (const entry of ['sqlite', 'dynamodb', 'redis', 'undici-store', 'otel', 'testing']) {
      expect(loadedAtOnce(`${root}dist/pkg/${entry}.js`).size, entry).to.be.at.most(6);
    }
    // A backend, or undici's own cache on one of ours, does not load the cache: a program that imports only it pays for no more.
    for (const entry of ['sqlite', 'dynamodb', 'redis', 'undici-store', 'otel']) {
      const loaded = [...loadedAtOnce(`${root}dist/pkg/${entry}.js`)].map((file) => readFileSync(file, 'utf8')).join('\n');
      expect(loaded, entry).to.not.match(/class HttpCache\b|\bHttpCache=class\b/);
    }
    // Export and import are loaded when asked for: no request needs them.
    const atOnce = [...loadedAtOnce(`${root}dist/pkg/index.js`)].map((file) => readFileSync(file, 'utf8')).join('\n');
    expect(atOnce).to.not.include('cachette-export');
    // Node's built-ins are taken with process.getBuiltinModule: an import of one makes its ESM namespace, reading
    // every export (node:crypto's loads WebCrypto), about 1.5 ms of a cold start for the five the cache uses.
    expect(atOnce.match(/\bfrom\s*["']node:[\w/]+["']|\bimport\s*["']node:/g) ?? []).to.deep.equal([]);
    // Shared code is in shared chunks: one copy of each class, whichever entry points a program imports (instanceof holds across them).
    const { readdirSync } = require('node:fs') as typeof import('node:fs');
    const shipped = readdirSync(`${root}dist/pkg`, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.js'));
    const sources = shipped.map((name) => readFileSync(`${root}dist/pkg/${name}`, 'utf8'));
    for (const name of ['StorageRequestError', 'StorageDeadlineError', 'BasePartition', 'MemoryStorage', 'HttpCache']) {
      expect(sources.filter((source) => new RegExp(`class ${name}\\b|\\b${name}=class\\b`).test(source)).length, name).to.equal(1);
    }
  });

  it('"cachette/sqlite" without better-sqlite3 installed fails with a message that says what to install', () => {
    const { mkdtempSync, mkdirSync, symlinkSync, cpSync, rmSync } = require('node:fs') as typeof import('node:fs');
    const project = mkdtempSync(`${require('node:os').tmpdir()}/cachette-no-sqlite-`);
    try {
      // A project where cachette is installed with its dependencies, but not better-sqlite3.
      const installed = `${project}/node_modules/cachette`;
      mkdirSync(`${installed}/dist`, { recursive: true });
      cpSync(`${root}package.json`, `${installed}/package.json`);
      cpSync(`${root}dist/pkg`, `${installed}/dist/pkg`, { recursive: true });
      for (const dependency of ['msgpackr', 'undici']) symlinkSync(`${root}node_modules/${dependency}`, `${project}/node_modules/${dependency}`);
      let message = '';
      try {
        // Without the test run's NODE_OPTIONS: this is a user's project, not ours.
        execFileSync(process.execPath, [...NODE_CHILD_FLAGS, '--input-type=module', '-e', "await import('cachette/sqlite')"], {
          cwd: project,
          encoding: 'utf8',
          stdio: 'pipe',
          env: { ...process.env, NODE_OPTIONS: '' },
        });
      } catch (error) {
        message = String((error as { stderr?: string }).stderr);
      }
      expect(message).to.include('cachette/sqlite needs the better-sqlite3 package, an optional peer dependency: npm install better-sqlite3');
      // And "cachette" itself is fine there.
      const userEnv = { ...process.env, NODE_OPTIONS: '' };
      let sdkMessage = '';
      try {
        execFileSync(process.execPath, [...NODE_CHILD_FLAGS, '--input-type=module', '-e', "await import('cachette/dynamodb')"], {
          cwd: project,
          encoding: 'utf8',
          stdio: 'pipe',
          env: userEnv,
        });
      } catch (error) {
        sdkMessage = String((error as { stderr?: string }).stderr);
      }
      expect(sdkMessage).to.include(
        'cachette/dynamodb needs the @aws-sdk/client-dynamodb package, an optional peer dependency: npm install @aws-sdk/client-dynamodb',
      );
      expect(
        execFileSync(
          process.execPath,
          [...NODE_CHILD_FLAGS, '--input-type=module', '-e', "const m = await import('cachette'); console.log(typeof m.createCache)"],
          {
            cwd: project,
            encoding: 'utf8',
            env: userEnv,
          },
        ).trim(),
      ).to.equal('function');
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});
