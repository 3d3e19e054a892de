import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startServer } from '../helpers/server.js';
import { chatScope, WS } from '../helpers/sdk.js';
import * as sdk from '../../src/client/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

t.test('bundle - builds into one browser ES module exporting the same API, and works', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-sdk-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const outfile = join(dir, 'tidings.mjs'); // .mjs: no package.json up there says "module"
  // Built to a temp file: other tests may be (re)building dist/ at the same time.
  execFileSync(process.execPath, [join(root, 'scripts/build-sdk-bundle.mjs'), outfile], { stdio: 'inherit' });
  const source = readFileSync(outfile, 'utf8');
  t.notMatch(source, /from\s*["']node:|require\(["']/, 'no Node built-ins and no require: loads in a browser as is');
  const bundle = (await import(pathToFileURL(outfile).href)) as typeof sdk;
  t.same(Object.keys(bundle).sort(), Object.keys(sdk).sort(), 'same exports as tidings/client');

  const server = await startServer(t);
  const token = (await server.auth.mintDisposableToken({ scope: chatScope, expiresInSec: 60, tokenId: 'bundled' })).token;
  const client = bundle.connect({ url: server.httpUrl, token, webSocket: WS });
  t.teardown(() => client.close());
  const items: string[] = [];
  let arrived!: () => void;
  const done = new Promise<void>((resolve) => { arrived = resolve; });
  const sub = await client.topics.subscribe('chat', 'b', { onItem: (i) => { items.push(`${i.tokenId()}:${i.valueString()}`); arrived(); } });
  t.ok(sub instanceof bundle.TopicSubscribe.Subscription);
  t.ok((await client.topics.publish('chat', 'b', 'hi')) instanceof bundle.TopicPublish.Success);
  await done;
  t.same(items, ['bundled:hi']);
  const miss = await client.cache.get('chat', 'nothing');
  t.ok(miss instanceof bundle.CacheGet.Miss);
  const err = new bundle.TidingsClientError('CONNECTION_ERROR', 'x');
  t.equal(err.name, 'TidingsClientError', 'class names survive minification');
});

t.test('bundle - GET /sdk/tidings.js serves the built bundle, or says how to build it', async (t) => {
  const server = await startServer(t);
  const res = await fetch(`${server.httpUrl}/sdk/tidings.js`);
  const body = await res.text();
  if (existsSync(join(root, 'dist/client/tidings.js'))) {
    t.equal(res.status, 200);
    t.match(res.headers.get('content-type') ?? '', /^text\/javascript/);
    t.match(body, /export\s*\{/, 'an ES module');
  } else {
    t.equal(res.status, 503);
    t.match(body, /npm run build/);
  }
});
