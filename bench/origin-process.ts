/**
 * The miss benchmark's origin in a process of its own, as a real origin is:
 * its work then runs beside the client's instead of taking turns with it on
 * one thread. Answers every request with the same 2 KB response; sends its
 * port to the parent.
 */
import http from 'node:http';

const BODY = Buffer.alloc(2048, 'y');
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60', 'content-length': String(BODY.length) });
  res.end(BODY);
});
server.listen(0, '127.0.0.1', () => {
  process.send?.((server.address() as { port: number }).port);
});
process.on('disconnect', () => server.close());
