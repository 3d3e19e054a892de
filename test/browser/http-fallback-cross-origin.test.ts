/** The SDK's SSE + HTTP fallback works from a page on another origin listed in server.corsOrigins:
 * its POST /v1/stream (X-Tidings-Stream, an octet-stream body) is preflighted, and the preflight
 * is answered (the stream route handles every method itself, before the OPTIONS wildcard). */
import t from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startServer } from '../helpers/server.js';
import { buildSdkBundle, launchChromium, newPage } from '../helpers/browser.js';
import { tokenFor } from '../helpers/raw-client.js';
import { PermissionScopes } from '../../src/index.js';

buildSdkBundle();

t.test('browser - the http fallback transport from a page on another (allowed) origin', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  // The page's origin: a blank page on another port.
  const pages = http.createServer((_, res) => { res.setHeader('content-type', 'text/html'); res.end('<!doctype html><title>app</title>'); });
  await new Promise<void>((r) => pages.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => pages.close(() => r())));
  const pageOrigin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
  const server = await startServer(t, { config: { server: { corsOrigins: [pageOrigin] } } });
  const token = await tokenFor(server, PermissionScopes.topicPublishSubscribe('feed', '*'), { tokenId: 'page' });
  const page = await newPage(browser);
  await page.goto(`${pageOrigin}/`);
  const result = await page.evaluate(async ({ url, token }) => {
    const sdk = await import(`${url}/sdk/tidings.js`);
    const client = sdk.connect({ url, token, transport: 'http', reconnectBaseMs: 50, reconnectMaxMs: 100 });
    const states: string[] = [];
    client.connection.onStatus((s: { state: string }) => states.push(s.state));
    const published = await client.topics.publish('feed', 'news', 'hello', { timeoutMs: 4000 }).catch((e: Error) => e);
    const out = { published: String(published), states: states.slice(0, 8) };
    client.close();
    return out;
  }, { url: server.httpUrl, token });
  t.match(result.published, /^Success/, `publish over the fallback from ${pageOrigin}: ${result.published}; statuses ${result.states.join(',')}`);
});
