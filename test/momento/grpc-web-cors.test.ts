/** grpc-web on the HTTP port answers cross-origin requests exactly as server.corsOrigins says, as the
 * HTTP API does: a listed origin (or "*") gets Access-Control-Allow-Origin on preflights and calls;
 * any other origin's preflight is refused (403) and its calls carry no CORS header, so its page
 * cannot read them. With no origin configured (the default), no cross-origin page can. */
import t from 'tap';
import http from 'node:http';
import { startMomentoServer } from '../helpers/momento.js';

const PING = '/cache_client.Ping/Ping';
const EMPTY_FRAME = Buffer.alloc(5).toString('base64');

interface Answer { status: number; headers: http.IncomingHttpHeaders; text: string }
function request(url: string, method: string, headers: Record<string, string>, body = ''): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${PING}`, { method, headers });
    req.on('error', reject);
    req.on('response', (res) => {
      let text = ''; res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.end(body);
  });
}
const preflight = (url: string, origin: string) => request(url, 'OPTIONS', {
  origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,x-grpc-web',
});
const call = (url: string, origin: string) => request(url, 'POST', { origin, 'content-type': 'application/grpc-web-text', 'x-grpc-web': '1' }, EMPTY_FRAME);
/** Each frame is base64-encoded on its own: decode them one by one, then read the trailer's status. */
const grpcStatus = (a: Answer) => /grpc-status:(\d+)/.exec((a.text.match(/[^=]+=*/g) ?? []).map((p) => Buffer.from(p, 'base64').toString('latin1')).join(''))?.[1];

t.test('a listed origin is allowed, another is not', async (t) => {
  const server = await startMomentoServer(t, { config: { server: { corsOrigins: ['https://app.example'] }, http: { corsMaxAgeSec: 120 } } });
  const ok = await preflight(server.httpUrl, 'https://app.example');
  t.equal(ok.status, 204, 'listed origin: preflight answered');
  t.equal(ok.headers['access-control-allow-origin'], 'https://app.example');
  t.match(ok.headers['vary'], /origin/i);
  t.match(ok.headers['access-control-allow-headers'], /authorization/);
  t.equal(ok.headers['access-control-max-age'], '120', 'http.corsMaxAgeSec');
  const okCall = await call(server.httpUrl, 'https://app.example');
  t.equal(grpcStatus(okCall), '0', 'the call ran');
  t.equal(okCall.headers['access-control-allow-origin'], 'https://app.example', 'listed origin may read the answer');
  t.match(okCall.headers['access-control-expose-headers'], /grpc-status/);

  const bad = await preflight(server.httpUrl, 'https://evil.example');
  t.equal(bad.status, 403, 'unlisted origin: preflight refused');
  t.equal(bad.headers['access-control-allow-origin'], undefined);
  const badCall = await call(server.httpUrl, 'https://evil.example');
  t.equal(badCall.headers['access-control-allow-origin'], undefined, 'unlisted origin: no CORS header on the answer');
});

t.test('default (no origins): no cross-origin page may read grpc-web', async (t) => {
  const server = await startMomentoServer(t);
  const pre = await preflight(server.httpUrl, 'https://app.example');
  t.equal(pre.status, 403);
  t.equal(pre.headers['access-control-allow-origin'], undefined);
  const c = await call(server.httpUrl, 'https://app.example');
  t.equal(grpcStatus(c), '0', 'same-origin or non-browser callers are served');
  t.equal(c.headers['access-control-allow-origin'], undefined);
});

t.test('"*" allows any origin', async (t) => {
  const server = await startMomentoServer(t, { config: { server: { corsOrigins: ['*'] } } });
  const pre = await preflight(server.httpUrl, 'https://anywhere.example');
  t.equal(pre.status, 204);
  t.equal(pre.headers['access-control-allow-origin'], '*');
  t.equal((await call(server.httpUrl, 'https://anywhere.example')).headers['access-control-allow-origin'], '*');
});
