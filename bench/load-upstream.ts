/**
 * The load bench's upstream API, in a process of its own: 2 KB JSON
 * documents under /items/<n>, each answered after 1 ms (an API that does a
 * little work), cacheable for ten minutes. Counts the requests it answers,
 * and tells the parent when asked.
 */
import http from 'node:http';

const body = Buffer.from(
  JSON.stringify({ items: Array.from({ length: 30 }, (_, i) => ({ id: i, name: `item ${i}`, tags: ['a', 'b'], price: i * 1.5 })) }).padEnd(2048, ' '),
);
let answered = 0;

const server = http.createServer((req, res) => {
  setTimeout(() => {
    answered += 1;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=600', 'content-length': String(body.length), etag: `"${req.url}"` });
    res.end(body);
  }, 1);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as { port: number }).port }));
process.on('message', (message) => {
  if (message === 'count') process.send?.({ count: answered });
});
process.on('disconnect', () => server.close());
