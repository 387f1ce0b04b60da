/**
 * The load bench's upstream API, in a process of its own: 2 KB JSON
 * documents under /items/<n>, each answered after 1 ms (an API that does a
 * little work), cacheable for ten minutes. Under /mixed/items/<n>, 10 KB
 * documents of which two in five are cacheable and the rest `no-store`: a
 * workload of about 40% hits. Counts the requests it answers, and tells the
 * parent when asked.
 */
import http from 'node:http';

const document = JSON.stringify({ items: Array.from({ length: 30 }, (_, i) => ({ id: i, name: `item ${i}`, tags: ['a', 'b'], price: i * 1.5 })) });
const small = Buffer.from(document.padEnd(2048, ' '));
const large = Buffer.from(document.padEnd(10 * 1024, ' '));
let answered = 0;

const server = http.createServer((req, res) => {
  setTimeout(() => {
    answered += 1;
    const url = req.url ?? '/';
    const mixed = url.startsWith('/mixed/');
    const body = mixed ? large : small;
    const cacheable = !mixed || Number(url.split('/').pop()) % 5 < 2;
    res.writeHead(200, {
      'content-type': 'application/json',
      'cache-control': cacheable ? 'max-age=600' : 'no-store',
      'content-length': String(body.length),
      etag: `"${url}"`,
    });
    res.end(body);
  }, 1);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as { port: number }).port }));
process.on('message', (message) => {
  if (message === 'count') process.send?.({ count: answered });
});
process.on('disconnect', () => server.close());
