#!/usr/bin/env node
// Makes sure a redis-server binary is there for the Redis specs and the
// benchmarks (`npm test`, `npm run bench`: each starts its own server on a
// free loopback port). When it is missing and this
// machine can install Debian packages (root, apt-get), installs Debian's
// redis-server; otherwise says how to. Never fails the run by itself: the
// Redis specs then fail with the same message.
import { spawnSync } from 'node:child_process';

function redisServerPath() {
  const found = spawnSync('sh', ['-c', 'command -v redis-server || command -v valkey-server'], { encoding: 'utf8' });
  const path = found.stdout.trim().split('\n')[0];
  return path === '' ? undefined : path;
}

const INSTALL_HINT =
  'redis-server is not installed: apt-get install redis-server (Debian/Ubuntu), brew install redis (macOS), or put valkey-server on the PATH';

if (redisServerPath() === undefined) {
  const root = process.getuid?.() === 0;
  const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).stdout.trim() !== '';
  if (root && apt) {
    console.log('installing redis-server (Debian package) for the Redis specs…');
    const install = () =>
      spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'redis-server'], {
        stdio: 'ignore',
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
    if (install().status !== 0) {
      spawnSync('apt-get', ['update'], { stdio: 'ignore' });
      install();
    }
  }
  console.log(redisServerPath() === undefined ? INSTALL_HINT : `redis-server: ${redisServerPath()}`);
}
