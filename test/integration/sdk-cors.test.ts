import t from 'tap';
import { startServer } from '../helpers/server.js';
import { resolveConfig } from '../../src/index.js';

const sdkFrom = async (url: string, origin?: string) => fetch(`${url}/sdk/tidings.js`, origin ? { headers: { origin } } : {});

t.test('sdk cors - pages of the configured origins may load the SDK bundle cross-origin; others may not', async (t) => {
  const closed = await startServer(t);
  t.equal((await sdkFrom(closed.httpUrl, 'https://app.example')).headers.get('access-control-allow-origin'), null, 'by default no origin is allowed');

  const listed = await startServer(t, { config: { server: { corsOrigins: ['https://app.example', 'http://localhost:3000'] } } });
  const allowed = await sdkFrom(listed.httpUrl, 'http://localhost:3000');
  t.equal(allowed.status, 200);
  t.equal(allowed.headers.get('access-control-allow-origin'), 'http://localhost:3000', 'a listed origin is echoed');
  t.match(allowed.headers.get('vary'), /Origin/, 'and caches are told the answer depends on it');
  t.equal((await sdkFrom(listed.httpUrl, 'https://evil.example')).headers.get('access-control-allow-origin'), null, 'an unlisted origin is not');
  t.match((await sdkFrom(listed.httpUrl)).headers.get('vary'), /Origin/, 'an answer without the header varies by Origin too (a cache must not hand it to a listed page)');

  const open = await startServer(t, { config: { server: { corsOrigins: ['*'] } } });
  t.equal((await sdkFrom(open.httpUrl, 'https://anywhere.example')).headers.get('access-control-allow-origin'), '*');
});

t.test('sdk cors - an origin with a path or no scheme is refused at start, naming the key', async (t) => {
  for (const bad of ['app.example', 'https://app.example/', 'https://app.example/path', 'ftp://x']) {
    t.throws(() => resolveConfig({ dev: true, server: { corsOrigins: [bad] } }), { name: 'ConfigError', message: /server\.corsOrigins\[0\]/ }, bad);
  }
});
