/**
 * The test-runner examples of docs/testing.md, run as they are written: each
 * is a whole test file for node:test, mocha or vitest. Run once against a
 * local API (it records), then again with the API gone and
 * CACHETTE_RECORDING=replay (it replays): both runs pass.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { NODE_CHILD_FLAGS } from '../support.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
// Inside the package, so that the examples' `cachette/testing` resolves to it.
const runs = join(root, 'dist', 'runners-run');

/** The ```javascript blocks of docs/testing.md, in order: node:test, mocha, vitest. */
function examples(): string[] {
  const text = readFileSync(join(root, 'docs/testing.md'), 'utf8');
  return [...text.matchAll(/^```javascript\n([\s\S]*?)^```$/gm)].map((match) => match[1] as string);
}

function run(command: string, args: string[], env: Record<string, string>): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: runs, env: { ...process.env, ...env }, timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : Number((error as { code?: number }).code ?? 1), output: `${stdout}${stderr}` }),
    );
  });
}

describe('docs/testing.md: the test-runner examples', function () {
  this.timeout(240_000);
  const found = examples();
  const script = (path: string) => join(root, 'node_modules', path);
  const runners = [
    {
      name: 'node:test',
      file: 'node-test.test.mjs',
      command: process.execPath,
      args: (file: string) => [...NODE_CHILD_FLAGS, '--test', '--test-reporter=spec', file],
    },
    // Their scripts, on this Node (their bins' `env node` would find the PATH's, not the one this pass runs).
    {
      name: 'mocha',
      file: 'users.spec.mjs',
      command: process.execPath,
      args: (file: string) => [script('mocha/bin/mocha.js'), '--no-config', '--no-package', file],
    },
    { name: 'vitest', file: 'users.test.mjs', command: process.execPath, args: (file: string) => [script('vitest/vitest.mjs'), 'run', file, '--root', runs] },
  ];

  it('are three: node:test, mocha, vitest', () => {
    expect(found).to.have.length(3);
  });

  for (const [index, runner] of runners.entries()) {
    it(`${runner.name}: records against the API, then replays with the API gone`, async () => {
      rmSync(runs, { recursive: true, force: true });
      mkdirSync(runs, { recursive: true });
      writeFileSync(join(runs, runner.file), found[index] as string);
      let requests = 0;
      const api = http.createServer((_req, res) => {
        requests += 1;
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify({ id: 1, name: 'Ada' }));
      });
      await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
      const apiUrl = `http://127.0.0.1:${(api.address() as { port: number }).port}`;
      const recorded = await run(runner.command, runner.args(runner.file), { API_URL: apiUrl, CACHETTE_RECORDING: '' });
      await new Promise<void>((resolve) => api.close(() => resolve()));
      expect(recorded.code, recorded.output).to.equal(0);
      expect(requests).to.equal(1);
      const replayed = await run(runner.command, runner.args(runner.file), { API_URL: apiUrl, CACHETTE_RECORDING: 'replay' });
      expect(replayed.code, replayed.output).to.equal(0);
      // Not a run that passes whatever happens: a request not recorded fails it.
      writeFileSync(join(runs, runner.file), (found[index] as string).replace('/users/1', '/users/2'));
      const unrecorded = await run(runner.command, runner.args(runner.file), { API_URL: apiUrl, CACHETTE_RECORDING: 'replay' });
      expect(unrecorded.code, unrecorded.output).to.not.equal(0);
      expect(unrecorded.output).to.include('/users/2 is not in the recording');
    });
  }
});
