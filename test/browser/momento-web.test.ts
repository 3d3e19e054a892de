/** Conformance: the official @gomomento/sdk-web (grpc-web-text over XHR) in real Chromium against a
 * real Tidings server: cache data, hits and misses, a scoped token's permission error, token minting,
 * and a topic subscription that receives an item published with the official Node SDK. */
import t from 'tap';
import { build } from 'esbuild';
import { PermissionScopes, encodeMomentoCredential } from '../../src/index.js';
import { launchChromium, newPage } from '../helpers/browser.js';
import { apiKeyFor, momentoClients, startMomentoServer } from '../helpers/momento.js';

/** The web SDK as one script exposing `MomentoWeb`, built from the pinned package. */
async function webSdkBundle(): Promise<string> {
  const result = await build({
    entryPoints: ['node_modules/@gomomento/sdk-web/dist/src/index.js'],
    bundle: true, format: 'iife', globalName: 'MomentoWeb', platform: 'browser', write: false, logLevel: 'error',
  });
  return result.outputFiles[0]!.text;
}

t.test('momento web sdk in chromium - cache, tokens and topics over grpc-web-text', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  // Streams are recycled quickly here so the test sees the SDK resume across a recycle.
  // The page (about:blank) is another origin than the server's: grpc-web honours server.corsOrigins.
  const server = await startMomentoServer(t, { config: { momento: { webStreamMaxMs: 1500 }, server: { corsOrigins: ['*'] } } });
  const apiKey = await apiKeyFor(server);
  const scoped = await server.auth.mintDisposableToken({ scope: PermissionScopes.cacheReadOnly('app'), expiresInSec: 60 });
  const page = await newPage(browser);
  const errors: Error[] = [];
  page.on('pageerror', (err) => errors.push(err));
  await page.setContent('<!doctype html><title>momento web sdk</title>');
  await page.addScriptTag({ content: await webSdkBundle() });

  const endpoint = server.httpUrl;
  const results = await page.evaluate(async ({ key, scopedKey, endpoint }) => {
    const M = (window as unknown as { MomentoWeb: any }).MomentoWeb;
    const overrides = { cacheEndpoint: endpoint, controlEndpoint: endpoint, tokenEndpoint: endpoint, secureConnection: false };
    const credentialProvider = M.CredentialProvider.fromString({ apiKey: key, endpointOverrides: overrides });
    const cache = new M.CacheClient({ configuration: M.Configurations.Browser.v1(), credentialProvider, defaultTtlSeconds: 60 });
    const out: Record<string, unknown> = {};
    out.miss = (await cache.get('app', 'k')).type;
    out.set = (await cache.set('app', 'k', 'from the browser')).type;
    out.hit = (await cache.get('app', 'k')).value();
    out.pushed = (await cache.listConcatenateBack('app', 'history', ['a', 'b', 'c'], { truncateFrontToSize: 2 })).listLength();
    out.fetched = (await cache.listFetch('app', 'history')).value();
    out.popped = (await cache.listPopFront('app', 'history')).value();
    const scopedCache = new M.CacheClient({
      configuration: M.Configurations.Browser.v1(), defaultTtlSeconds: 60,
      credentialProvider: M.CredentialProvider.fromString({ apiKey: scopedKey, endpointOverrides: overrides }),
    });
    out.readOnly = (await scopedCache.get('app', 'k')).value();
    out.denied = (await scopedCache.set('app', 'k', 'x')).errorCode();
    const auth = new M.AuthClient({ credentialProvider });
    const minted = await auth.generateDisposableToken(M.DisposableTokenScopes.topicSubscribeOnly('chat', 'room1'), M.ExpiresIn.minutes(5), { tokenId: 'web-user' });
    out.minted = minted.type;
    // Subscribe with the minted token; the Node side publishes once the browser says it is ready.
    const topics = new M.TopicClient({
      configuration: M.TopicConfigurations.Default.latest(),
      credentialProvider: M.CredentialProvider.fromString({ apiKey: minted.authToken, endpointOverrides: overrides }),
    });
    const w = window as unknown as { items: Array<{ value: string; seq: number; tokenId: string | undefined }>; subscription: unknown };
    w.items = [];
    const sub = await topics.subscribe('chat', 'room1', {
      onItem: (item: any) => w.items.push({ value: item.valueString(), seq: item.sequenceNumber(), tokenId: item.tokenId() }),
      onError: (e: any) => w.items.push({ value: `error ${e.errorCode()}`, seq: -1, tokenId: undefined }),
    });
    out.subscribed = sub.type;
    w.subscription = sub;
    out.publishDenied = (await topics.publish('chat', 'room1', 'x')).errorCode();
    return out;
  }, { key: encodeMomentoCredential({ endpoint: `127.0.0.1:${server.momentoPort}`, apiKey }), scopedKey: encodeMomentoCredential({ endpoint: 'tidings', apiKey: scoped.token }), endpoint });

  t.same(results, {
    miss: 'Miss', set: 'Success', hit: 'from the browser', pushed: 2, fetched: ['b', 'c'], popped: 'b',
    readOnly: 'from the browser', denied: 'PERMISSION_ERROR', minted: 'Success', subscribed: 'Subscription', publishDenied: 'PERMISSION_ERROR',
  });

  const node = await momentoClients(t, server, await apiKeyFor(server, PermissionScopes.allDataReadWrite(), 'node-publisher'));
  await node.topics.publish('chat', 'room1', 'hello browser');
  await page.waitForFunction(() => (window as unknown as { items: unknown[] }).items.length >= 1, undefined, { timeout: 10_000 });
  const items = await page.evaluate(() => (window as unknown as { items: unknown[] }).items);
  t.same(items, [{ value: 'hello browser', seq: 1, tokenId: 'node-publisher' }]);
  // Past momento.webStreamMaxMs the server ended the stream (OK); the SDK resubscribed from seq 1.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  await node.topics.publish('chat', 'room1', 'after the recycle');
  await page.waitForFunction(() => (window as unknown as { items: unknown[] }).items.length >= 2, undefined, { timeout: 10_000 });
  t.same((await page.evaluate(() => (window as unknown as { items: unknown[] }).items))[1], { value: 'after the recycle', seq: 2, tokenId: 'node-publisher' });
  await page.evaluate(() => ((window as unknown as { subscription: { unsubscribe(): void } }).subscription).unsubscribe());
  t.same(errors, [], 'no page errors');
});
