/**
 * The miss benchmark's origin in a process of its own, as a real origin is:
 * its work then runs beside the client's instead of taking turns with it on
 * one thread. Answers every request with a body of the size its `size`
 * query parameter asks (2 KB by default); sends its port to the parent.
 */
import http from 'node:http';

const bodies = new Map<number, Buffer>();
const server = http.createServer((req, res) => {
  const size = Number(new URL(req.url ?? '/', 'http://origin').searchParams.get('size') ?? 2048);
  let body = bodies.get(size);
  if (body === undefined) {
    body = Buffer.alloc(size, 'y');
    bodies.set(size, body);
  }
  res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60', 'content-length': String(body.length) });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => {
  process.send?.((server.address() as { port: number }).port);
});
process.on('disconnect', () => server.close());
