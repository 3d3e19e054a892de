/** No secret reaches the log, on success or error paths, at the most verbose level: the signing key,
 * the admin API key, an expired or foreign token presented over the WebSocket and the HTTP API, the
 * VAPID private key while pushes fail (500) and are retried, a webhook's secret (config file and
 * admin route) while its receiver answers 500, a credential in a webhook URL's query, and a webhook
 * secret sent with a URL the admin route refuses; and, with engine redis, the arguments of a script
 * that fails unexpectedly (ioredis puts them on the error as `command.args`): a webhook secret, a
 * push subscription's auth secret. (Redis passwords: test/integration/redis-refused.) */
import t from 'tap';
import webpush from 'web-push';
import { Writable } from 'node:stream';
import { createServer, defaultFeatures, generateSigningKey, PermissionScopes } from '../../src/index.js';
import { TokenAuthority } from '../../src/auth/tokens.js';
import { createLogger } from '../../src/core/logger.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { browserSubscription } from '../helpers/push-service.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { waitFor } from '../helpers/wait.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { Redis } from 'ioredis';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

const CACHE = 'chat';
const scope = PermissionScopes.topicPublishSubscribe(CACHE, '*');
const PAYLOAD = 'item-payload-never-logged-8e4a0b';

t.test('secrets never appear in the log, on error paths included', async (t) => {
  let written = '';
  const sink = new Writable({ write(chunk, _enc, done) { written += String(chunk); done(); } });
  const receiver = await HttpReceiver.start(t);
  receiver.respond = () => ({ status: 500, body: 'receiver exploded' });
  const signingKey = generateSigningKey();
  const vapid = webpush.generateVAPIDKeys();
  const configSecret = 'config-webhook-secret-5c1f7a';
  const querySecret = 'query-credential-8d2e4b';
  const adminSecret = 'admin-webhook-secret-3b9d0e';
  const refusedSecret = 'refused-webhook-secret-6a4c2f';
  const server = await createServer({
    config: {
      dev: true,
      server: { port: 0, shutdownGraceMs: 200 },
      auth: { signingKeys: [signingKey] },
      presence: { leaveGraceMs: 0 },
      push: { vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey, allowInsecureEndpoints: true, allowPrivateEndpoints: true, maxAttempts: 2, collapseMs: 1 },
      webhooks: {
        allowPrivateUrls: true, maxAttempts: 2, backoffInitialMs: 10, backoffMaxMs: 20,
        endpoints: [{ name: 'cfg', url: `${receiver.url}/cfg?key=${querySecret}`, secret: configSecret, cache: CACHE, topicPrefix: '', events: ['item.published'] }],
      },
    },
    logger: createLogger({ level: 'trace', destination: sink }),
  }, defaultFeatures());
  t.teardown(() => server.close());
  const adminKey = server.adminApiKey!;

  // Tokens that fail: one expired an hour ago (signed with the right key), one from another server.
  const past = new TokenAuthority(server.config.auth, [signingKey], { now: () => Date.now() - 3_600_000 } as never);
  const expired = (await past.mintDisposableToken({ scope, expiresInSec: 60, tokenId: 'late' })).token;
  const foreign = (await new TokenAuthority(server.config.auth, [generateSigningKey()], { now: () => Date.now() } as never).mintApiKey({ scope, expiresInSec: null })).token;
  for (const bad of [expired, foreign]) {
    const c = await RawClient.connect(server.wsUrl);
    t.equal((await c.request({ t: 'hello', versions: [1], token: bad }))['e']?.code, 'AUTHENTICATION_ERROR', 'a bad token is refused on the WebSocket');
    c.close();
    const res = await fetch(`${server.httpUrl}/v1/tokens`, { method: 'POST', headers: { authorization: `Bearer ${bad}` }, body: JSON.stringify({ scope, expiresInSeconds: 60 }) });
    t.equal(res.status, 401, 'and on the HTTP API');
    const pub = await fetch(`${server.httpUrl}/v1/topics/${CACHE}/room`, { method: 'POST', headers: { authorization: `Bearer ${bad}`, 'content-type': 'text/plain' }, body: 'x' });
    t.equal(pub.status, 401, 'and on the publish route');
  }

  // Admin route: one webhook accepted, one refused (its URL has user:password@), both with secrets.
  const put = (name: string, body: Record<string, unknown>) => fetch(`${server.httpUrl}/v1/webhooks/${CACHE}/${name}`, { method: 'PUT', headers: { authorization: `Bearer ${adminKey}` }, body: JSON.stringify(body) });
  t.equal((await put('adm', { url: `${receiver.url}/adm`, secret: adminSecret, topicPrefix: '', events: ['item.published'] })).status, 200);
  t.equal((await put('bad', { url: `http://user:${refusedSecret}@127.0.0.1:1/x`, secret: refusedSecret, topicPrefix: '', events: ['item.published'] })).status, 400);

  // A push subscription and a follower who is away, so a publish is a push (answered 500, retried).
  const m = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'mallory' }));
  await m.ok({ t: 'pushRegister', subscription: browserSubscription(`${receiver.url}/push`).json });
  await m.ok({ t: 'follow', cache: CACHE, topic: 'room' });
  m.close();
  await m.waitClosed();
  const pub = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'hank' }));
  t.teardown(() => pub.close());
  const counts = () => ({
    cfg: receiver.received.filter((r) => r.path.startsWith('/cfg')).length,
    adm: receiver.received.filter((r) => r.path === '/adm').length,
    push: receiver.received.filter((r) => r.path === '/push').length,
  });
  await waitFor('every destination to be tried twice (500, then the retry)', async () => {
    const c = counts();
    if (c.push === 0) await pub.ok({ t: 'pub', cache: CACHE, topic: 'room', value: PAYLOAD });
    return c.cfg >= 2 && c.adm >= 2 && c.push >= 2;
  }, 15_000);
  await server.close();

  const all = written;
  t.ok(all.split('\n').filter(Boolean).length >= 3, 'lines were logged');
  const secrets: Array<[string, string]> = [
    ['signing key', signingKey], ['admin API key', adminKey], ['expired token', expired], ['foreign token', foreign],
    ['VAPID private key', vapid.privateKey], ['config webhook secret', configSecret], ['webhook URL query credential', querySecret],
    ['admin webhook secret', adminSecret], ['refused webhook secret', refusedSecret],
    ['payload of the item the webhooks and pushes that failed carried', PAYLOAD],
  ];
  for (const [name, secret] of secrets) {
    t.notOk(all.includes(secret), `the ${name} never appears in the log`);
    const signature = secret.split('.')[2];
    if (signature) t.notOk(all.includes(signature), `nor the ${name}'s signature`);
  }
});

t.test('secrets in the arguments of a script Redis refuses never reach the log', async (t) => {
  if (!requireRedis(t)) return;
  let written = '';
  const sink = new Writable({ write(chunk, _enc, done) { written += String(chunk); done(); } });
  const vapid = webpush.generateVAPIDKeys();
  const url = await sharedRedisUrl();
  const keyPrefix = uniquePrefix('logsecrets');
  t.teardown(() => deletePrefix(url, keyPrefix));
  const server = await createServer({
    config: {
      dev: true, engine: 'redis',
      redis: { url, keyPrefix },
      server: { port: 0, shutdownGraceMs: 200 },
      auth: { signingKeys: [generateSigningKey()] },
      push: { vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey, allowInsecureEndpoints: true, allowPrivateEndpoints: true },
      webhooks: { allowPrivateUrls: true },
    },
    logger: createLogger({ level: 'trace', destination: sink }),
  }, defaultFeatures());
  t.teardown(() => server.close());
  // Something else wrote where the webhook endpoints and mallory's push subscriptions live (a key
  // prefix shared by mistake): the scripts writing them fail with WRONGTYPE, an unexpected error,
  // logged with ioredis's `command.args`, the script's arguments.
  const other = new Redis(url);
  t.teardown(() => other.disconnect());
  await other.set(`${keyPrefix}n:\u0000w:endpoints`, 'not ours');
  await other.set(`${keyPrefix}n:p:mallory`, 'not ours');

  const webhookSecret = 'refused-by-redis-secret-71e0c2';
  const put = await fetch(`${server.httpUrl}/v1/webhooks/${CACHE}/hook`, {
    method: 'PUT', headers: { authorization: `Bearer ${server.adminApiKey!}` },
    body: JSON.stringify({ url: 'http://127.0.0.1:9/hook', secret: webhookSecret, topicPrefix: '', events: ['item.published'] }),
  });
  t.equal(put.status, 500, 'Redis refused the webhook write');
  const sub = browserSubscription('http://127.0.0.1:9/push');
  const c = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'mallory' }));
  t.teardown(() => c.close());
  t.equal((await c.request({ t: 'pushRegister', subscription: sub.json }))['e']?.code, 'INTERNAL_SERVER_ERROR', 'Redis refused the push subscription write');
  await waitFor('both refusals to be logged', () => written.split('\n').filter((l) => l.includes('WRONGTYPE')).length >= 2);
  await server.close();

  for (const [name, secret] of [['webhook secret', webhookSecret], ['push subscription auth secret', sub.json.keys.auth]] as const) {
    t.notOk(written.includes(secret), `the ${name} never appears in the log`);
  }
  t.match(written, /"command":\{"name":"evalsha"\}/, 'which command failed is still logged');
});

/** At trace, engine redis with a password in the Redis URL (an ACL user), its link through a proxy
 * that drops it once: neither the password nor a message's payload reaches the log, whatever the
 * path (published, stored, refused as too large, refused by permission, a malformed frame or HTTP
 * body carrying it). The startup line says what the operator needs: the engine, the Redis host and
 * port (not the URL), and the settings that differ from their defaults. */
t.test('the Redis URL password and message payloads never reach the log; the startup line says what runs', async (t) => {
  if (!requireRedis(t)) return;
  let written = '';
  const sink = new Writable({ write(chunk, _enc, done) { written += String(chunk); done(); } });
  const url = await sharedRedisUrl();
  const keyPrefix = uniquePrefix('logurl');
  t.teardown(() => deletePrefix(url, keyPrefix));
  const user = `ops-log-${Math.random().toString(36).slice(2, 8)}`;
  const password = `redis-url-password-${Math.random().toString(36).slice(2, 10)}`;
  const admin = new Redis(url);
  await admin.call('ACL', 'SETUSER', user, 'on', `>${password}`, '~*', '&*', '+@all');
  t.teardown(async () => { await admin.call('ACL', 'DELUSER', user); admin.disconnect(); });
  const proxy = await startTcpProxy(Number(new URL(url).port));
  t.teardown(() => proxy.close());
  const server = await createServer({
    config: {
      dev: true, engine: 'redis',
      redis: { url: `redis://${user}:${password}@127.0.0.1:${proxy.port}`, keyPrefix, reconnectMinMs: 10, reconnectMaxMs: 50 },
      server: { port: 0, shutdownGraceMs: 200, maxConnections: 5000 },
      auth: { signingKeys: [generateSigningKey()] },
    },
    logger: createLogger({ level: 'trace', destination: sink }),
  }, defaultFeatures());
  t.teardown(() => server.close());

  const payload = PAYLOAD;
  const token = await tokenFor(server, PermissionScopes.combine(scope, PermissionScopes.cacheReadWrite(CACHE)), { tokenId: 'pat' });
  const c = await RawClient.open(server, token);
  t.teardown(() => c.close());
  await c.ok({ t: 'sub', cache: CACHE, topic: 'room' });
  await c.ok({ t: 'pub', cache: CACHE, topic: 'room', value: payload });
  await c.ok({ t: 'listPushBack', cache: CACHE, list: 'history', value: payload });
  t.match(await c.request({ t: 'pub', cache: CACHE, topic: 'room', value: payload.repeat(3000) }), { e: { code: 'LIMIT_EXCEEDED_ERROR' } });
  t.match(await c.request({ t: 'pub', cache: 'elsewhere', topic: 'room', value: payload }), { e: { code: 'PERMISSION_ERROR' } });
  c.ws.send(`{"t":"pub","value":"${payload}"}`); // text, not msgpack: refused
  const post = (path: string, body: string, type = 'application/json') => fetch(`${server.httpUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': type }, body });
  t.equal((await post(`/v1/topics/${CACHE}/room`, payload, 'text/plain')).status, 200);
  t.equal((await post(`/v1/cache/${CACHE}/listPushBack`, `{"list":"history","value":"${payload}`)).status, 400, 'a malformed JSON body carrying the payload');
  t.equal((await post(`/v1/cache/${CACHE}/setValue`, JSON.stringify({ key: 'k', value: payload }))).status >= 200, true);

  // The link drops (and comes back): lost/back lines name the Redis, never its credentials.
  proxy.reset();
  await waitFor('the link to be lost and back', () => written.includes('redis connection back'));
  await c.ok({ t: 'pub', cache: CACHE, topic: 'room', value: payload });
  await server.close();

  const lines = written.split('\n').filter(Boolean);
  for (const line of lines) t.doesNotThrow(() => JSON.parse(line), 'each line is one JSON object');
  t.notOk(written.includes(password), 'the Redis password never appears');
  t.notOk(written.includes(payload), 'no payload appears');
  t.notOk(written.includes(token.split('.')[2]!), 'nor the token');
  const startup = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['msg'] === 'tidings listening');
  const lost = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => String(l['msg']).startsWith('redis subscription lost'));
  t.match(lost, { redis: `127.0.0.1:${proxy.port}` }, 'a lost subscription names its Redis (with shards: which one)');
  t.match(startup, { engine: 'redis', redis: [`127.0.0.1:${proxy.port}`], dev: true, metricsAccess: 'apiKey', dashboard: false, changed: { 'server.maxConnections': 5000, 'redis.reconnectMinMs': 10 } }, 'the startup line: engine, Redis host, who may scrape, the dashboard off (admin.tokenIds empty), changed settings');
});
