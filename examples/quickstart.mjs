// A miss, then a hit: starts a slow origin on 127.0.0.1 and fetches the same
// URL twice through cachette. Run with `npm run example` after `npm install`.
import http from 'node:http';
import { createCache } from 'cachette';

const origin = http.createServer((req, res) => {
  // A slow third-party API: 300 ms per answer.
  setTimeout(() => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' });
    res.end(JSON.stringify({ path: req.url, servedAt: new Date().toISOString() }));
  }, 300);
});
await new Promise((resolve) => origin.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${origin.address().port}/weather?city=Lyon`;

const cache = createCache();
for (const attempt of ['first', 'second', 'third']) {
  const start = performance.now();
  const response = await cache.fetch(url);
  const body = await response.json();
  const ms = (performance.now() - start).toFixed(1).padStart(6);
  console.log(`${attempt.padEnd(6)} ${ms} ms  ${response.headers.get('cache-status')}  servedAt=${body.servedAt}`);
}

await cache.close();
origin.close();
