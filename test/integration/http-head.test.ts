/** HEAD is answered as GET would be, without a body (RFC 9110 §9.3.2): the pages, their files, the
 * SDK bundle and /healthz give GET's status, type and length; every other path a bodiless 404. A
 * HEAD answer that carried bytes would be read as the start of the next response on a kept-alive
 * connection (a proxy's pooled upstream link, an uptime checker's). */
import t from 'tap';
import { connect } from 'node:net';
import { startServer } from '../helpers/server.js';
import { buildSdkBundle } from '../helpers/browser.js';

buildSdkBundle();

/** Sends HEAD `path`, then, once its answer's head is in, GET /healthz on the same connection (not
 * pipelined: uWS drops a connection that pipelines behind a pending answer); returns the HEAD
 * answer's head and every byte that followed it. */
async function headThenGet(port: number, path: string): Promise<{ status: string; headers: Record<string, string>; rest: string }> {
  const socket = connect(port, '127.0.0.1');
  socket.write(`HEAD ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
  let text = '';
  let asked = false;
  for await (const chunk of socket) {
    text += String(chunk);
    if (!asked && text.includes('\r\n\r\n')) {
      asked = true;
      socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    }
  }
  const end = text.indexOf('\r\n\r\n');
  const [status, ...lines] = text.slice(0, end).split('\r\n');
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: status!, headers, rest: text.slice(end + 4) };
}

t.test('HEAD: GET answers without their bodies, and no body anywhere else', async (t) => {
  const server = await startServer(t, { config: { dev: true, admin: { tokenIds: ['ops'] } } });
  const types: Record<string, RegExp> = { '/': /^text\/html/, '/demo/app.js': /^text\/javascript/, '/demo/style.css': /^text\/css/, '/sdk/tidings.js': /^text\/javascript/, '/healthz': /^application\/json/, '/readyz': /^application\/json/ };
  for (const path of ['/', '/demo/app.js', '/demo/style.css', '/sdk/tidings.js', '/admin', '/admin/app.js', '/admin/uplot.js', '/healthz', '/readyz']) {
    const get = await fetch(`${server.httpUrl}${path}`);
    // A browser refuses a script or stylesheet of another type (X-Content-Type-Options: nosniff).
    if (types[path]) t.match(get.headers.get('content-type'), types[path]!, `${path}: its type`);
    const body = Buffer.from(await get.arrayBuffer());
    const head = await headThenGet(server.port, path);
    t.equal(head.status, 'HTTP/1.1 200 OK', path);
    t.equal(head.headers['content-type'], get.headers.get('content-type'), `${path}: GET's content type`);
    t.equal(Number(head.headers['content-length']), body.length, `${path}: GET's length`);
    t.match(head.rest, /^HTTP\/1\.1 200 OK\r\n/, `${path}: nothing between the HEAD answer and the next response`);
  }
  for (const path of ['/nothing', '/demo/secret.js', '/admin/nothing', '/v1/stream', '/metrics']) {
    const head = await headThenGet(server.port, path);
    t.match(head.status, /^HTTP\/1\.1 [45]\d\d /, path);
    t.match(head.rest, /^HTTP\/1\.1 200 OK\r\n/, `${path}: no body after the HEAD answer`);
  }
});
