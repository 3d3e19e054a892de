/** Per-identity limits apply to gRPC calls as to WebSocket connections: a Subscribe stream or a call
 * in flight counts as a connection of its tokenId, every call is charged to the tokenId's rate (whose
 * bucket outlives the call), and to its client address's (limits.connectionOps*); a token mint to its
 * API key's (limits.tokenMints*). A stream also
 * holds one of server.maxConnections; an item of up to store.maxItemBytes fits a gRPC message. */
import t from 'tap';
import { CacheGet, MomentoErrorCode, TopicSubscribe } from '@gomomento/sdk';
import { cache } from '@gomomento/generated-types';
import { Metadata, credentials, makeGenericClientConstructor, status, type ServiceDefinition } from '@grpc/grpc-js';
import { ManualClock, PermissionScopes } from '../../src/index.js';
import { apiKeyFor, errorCode, momentoClients, startMomentoServer } from '../helpers/momento.js';
import { SDKS, kind } from '../helpers/momento-sdks.js';
import { waitFor } from '../helpers/wait.js';

t.test('momento limits - a Subscribe stream counts towards limits.maxConnectionsPerTokenId, and is released when it ends', async (t) => {
  const server = await startMomentoServer(t, { config: { limits: { maxConnectionsPerTokenId: 1 } } });
  const { topics, cache } = await momentoClients(t, server, await apiKeyFor(server, PermissionScopes.allDataReadWrite(), 'alice'));
  const sub = await topics.subscribe('chat', 'room', {});
  t.type(sub, TopicSubscribe.Subscription);
  t.equal(errorCode(await cache.get('chat', 'k')), MomentoErrorCode.LIMIT_EXCEEDED_ERROR, 'the stream holds alice’s one connection');
  (sub as TopicSubscribe.Subscription).unsubscribe();
  // The server releases the stream's session when the cancel arrives.
  for (let i = 0; i < 50 && [...server.broker.sessions.values()].some((s) => s.subscriptions.size > 0); i++) await new Promise((r) => setTimeout(r, 20));
  t.type(await cache.get('chat', 'k'), CacheGet.Miss, 'released: calls work again');
});

t.test('momento limits - a Subscribe stream holds one of server.maxConnections: past it a subscribe is refused, naming that knob; a freed slot is used again', async (t) => {
  const server = await startMomentoServer(t, { config: { server: { maxConnections: 1 } } });
  const { topics } = await momentoClients(t, server, await apiKeyFor(server));
  const first = await topics.subscribe('chat', 'a', {});
  t.type(first, TopicSubscribe.Subscription);
  // momento.maxStreams (10000) has room: only server.maxConnections refuses it.
  const second = await topics.subscribe('chat', 'b', {});
  if (second instanceof TopicSubscribe.Subscription) t.teardown(() => second.unsubscribe());
  t.equal(errorCode(second), MomentoErrorCode.LIMIT_EXCEEDED_ERROR);
  t.match((second as TopicSubscribe.Error).message(), /server\.maxConnections/);
  (first as TopicSubscribe.Subscription).unsubscribe();
  await waitFor('the first stream to be released', () => server.broker.sessions.size === 0);
  const third = await topics.subscribe('chat', 'b', {});
  t.type(third, TopicSubscribe.Subscription, 'the freed slot');
  (third as TopicSubscribe.Subscription).unsubscribe();
});

t.test('momento limits - while the tokenId holds a stream, its calls share the tokenId’s request rate', async (t) => {
  const server = await startMomentoServer(t, { config: { limits: { tokenIdOpsPerSec: 1, tokenIdOpsBurst: 3 } } });
  const { cache, topics } = await momentoClients(t, server, await apiKeyFor(server, PermissionScopes.allDataReadWrite(), 'bob'));
  // Per-tokenId state lives while the tokenId has a connection open (src/limits/): the stream is one.
  const sub = await topics.subscribe('chat', 'room', {});
  t.type(sub, TopicSubscribe.Subscription);
  t.teardown(() => (sub as TopicSubscribe.Subscription).unsubscribe());
  const codes: string[] = [];
  for (let i = 0; i < 6; i++) codes.push(errorCode(await cache.get('chat', 'k')));
  t.ok(codes.includes(MomentoErrorCode.LIMIT_EXCEEDED_ERROR), `past the burst the rate limit answers (${codes.join(', ')})`);
});

for (const sdk of SDKS) {
  t.test(`${sdk.name} - one unary call after another, with nothing open, still shares the tokenId’s rate; time refills it`, async (t) => {
    const clock = new ManualClock(Date.now());
    const server = await startMomentoServer(t, { clock, config: { limits: { tokenIdOpsPerSec: 1, tokenIdOpsBurst: 3 } } });
    const { cache } = await sdk.clients(t, server, await apiKeyFor(server, PermissionScopes.allDataReadWrite(), 'carol'));
    for (let i = 0; i < 3; i++) t.equal(kind(await cache.get('chat', 'k')), 'Miss', `call ${i + 1} of the burst`);
    const refused = await cache.get('chat', 'k');
    t.equal(errorCode(refused), MomentoErrorCode.LIMIT_EXCEEDED_ERROR);
    t.match((refused as { message(): string }).message(), /rate limit exceeded/i, 'the SDK words it from the err trailer cause');
    clock.advance(1000);
    t.equal(kind(await cache.get('chat', 'k')), 'Miss', 'one more a second later');
  });

  t.test(`${sdk.name} - calls from one address share limits.connectionOps* whatever their tokenIds`, async (t) => {
    const clock = new ManualClock(Date.now());
    const server = await startMomentoServer(t, { clock, config: { limits: { connectionOpsPerSec: 1, connectionOpsBurst: 2 } } });
    const a = await sdk.clients(t, server, await apiKeyFor(server, PermissionScopes.allDataReadWrite(), 'dave'));
    const b = await sdk.clients(t, server, await apiKeyFor(server, PermissionScopes.allDataReadWrite(), 'erin'));
    t.equal(kind(await a.cache.get('chat', 'k')), 'Miss');
    t.equal(kind(await b.cache.get('chat', 'k')), 'Miss');
    const refused = await a.cache.set('chat', 'k', 'v');
    t.equal(errorCode(refused), MomentoErrorCode.LIMIT_EXCEEDED_ERROR);
    t.match((refused as { toString(): string }).toString(), /calls from this address/);
    clock.advance(1000);
    t.equal(kind(await b.cache.get('chat', 'k')), 'Miss', 'a second later: allowed again, and the refused set wrote nothing');
  });

  t.test(`${sdk.name} - GenerateDisposableToken is charged to the minting API key's limits.tokenMints*`, async (t) => {
    const clock = new ManualClock(Date.now());
    const server = await startMomentoServer(t, { clock, config: { limits: { tokenMintsPerSec: 1, tokenMintsBurst: 2 } } });
    // Two keys of one tokenId: the bucket is the key's, not the tokenId's.
    const a = await sdk.clients(t, server, await apiKeyFor(server, PermissionScopes.allDataReadWrite(), 'backend'));
    const b = await sdk.clients(t, server, await apiKeyFor(server, PermissionScopes.allDataReadWrite(), 'backend'));
    const mint = (clients: typeof a) => clients.auth.generateDisposableToken(sdk.lib.DisposableTokenScopes.topicPublishSubscribe('chat', 'room'), sdk.lib.ExpiresIn.minutes(5));
    t.equal(kind(await mint(a)), 'Success');
    t.equal(kind(await mint(a)), 'Success');
    const refused = await mint(a);
    t.equal(errorCode(refused), MomentoErrorCode.LIMIT_EXCEEDED_ERROR, 'past the burst of 2');
    t.match((refused as { toString(): string }).toString(), /limits\.tokenMintsPerSec/);
    t.equal(kind(await mint(b)), 'Success', 'another key has its own bucket');
    clock.advance(1000);
    t.equal(kind(await mint(a)), 'Success', 'one more a second later');
  });
}

t.test('momento limits - behind a trusted proxy a native gRPC call is charged to the address its server.trustedProxyHeader metadata names', async (t) => {
  const clock = new ManualClock(Date.now());
  const server = await startMomentoServer(t, { clock, config: { server: { trustedProxyHeader: 'x-forwarded-for' }, limits: { connectionOpsPerSec: 1, connectionOpsBurst: 2 } } });
  const Client = makeGenericClientConstructor(cache.cache_client.UnimplementedScsService.definition as unknown as ServiceDefinition, 'Scs');
  const client = new Client(`127.0.0.1:${server.momentoPort}`, credentials.createInsecure()) as unknown as Record<string, (...args: unknown[]) => unknown>;
  t.teardown(() => (client as unknown as { close(): void }).close());
  const apiKey = await apiKeyFor(server);
  const get = (forwardedFor: string) => new Promise<number>((resolve) => {
    const metadata = new Metadata();
    metadata.set('authorization', apiKey);
    metadata.set('cache', 'chat');
    metadata.set('x-forwarded-for', forwardedFor);
    client['Get']!(new cache.cache_client._GetRequest({ cache_key: Buffer.from('k') }), metadata, (e: { code: number } | null) => resolve(e ? e.code : status.OK));
  });
  // One HTTP/2 connection from 127.0.0.1 carries every call: only the metadata tells them apart.
  t.equal(await get('203.0.113.1'), status.OK);
  t.equal(await get('198.51.100.7, 203.0.113.1'), status.OK, 'the last entry is the one the proxy saw');
  t.equal(await get('203.0.113.1'), status.RESOURCE_EXHAUSTED, 'past that address\'s burst');
  t.equal(await get('203.0.113.2'), status.OK, 'another address has its own');
});

t.test('momento limits - a refused call is RESOURCE_EXHAUSTED with err: operations_rate_limit_exceeded in the trailer', async (t) => {
  const clock = new ManualClock(Date.now());
  const server = await startMomentoServer(t, { clock, config: { limits: { tokenIdOpsPerSec: 1, tokenIdOpsBurst: 1 } } });
  const definition = cache.cache_client.UnimplementedScsService.definition as unknown as ServiceDefinition;
  const Client = makeGenericClientConstructor(definition, 'Scs');
  const client = new Client(`127.0.0.1:${server.momentoPort}`, credentials.createInsecure()) as unknown as Record<string, (...args: unknown[]) => unknown>;
  t.teardown(() => (client as unknown as { close(): void }).close());
  const metadata = new Metadata();
  metadata.set('authorization', await apiKeyFor(server, PermissionScopes.allDataReadWrite(), 'frank'));
  metadata.set('cache', 'chat');
  const get = () => new Promise<{ code: number; details: string; metadata?: Metadata }>((resolve) => {
    const request = new cache.cache_client._GetRequest({ cache_key: Buffer.from('k') });
    client['Get']!(request, metadata, (err: { code: number; details: string; metadata: Metadata } | null) => resolve(err ?? { code: status.OK, details: '' }));
  });
  t.equal((await get()).code, status.OK);
  const refused = await get();
  t.equal(refused.code, status.RESOURCE_EXHAUSTED);
  t.same(refused.metadata?.get('err'), ['operations_rate_limit_exceeded']);
  t.match(refused.details, /tokenId "frank"/);
});

t.test('momento limits - an item of up to store.maxItemBytes fits the listener’s messages; past it the refusal is ours, item_size_limit_exceeded', async (t) => {
  const server = await startMomentoServer(t);
  const Client = makeGenericClientConstructor(cache.cache_client.UnimplementedScsService.definition as unknown as ServiceDefinition, 'Scs');
  const client = new Client(`127.0.0.1:${server.momentoPort}`, credentials.createInsecure()) as unknown as Record<string, (...args: unknown[]) => unknown>;
  t.teardown(() => (client as unknown as { close(): void }).close());
  const metadata = new Metadata();
  metadata.set('authorization', await apiKeyFor(server));
  metadata.set('cache', 'chat');
  const set = (bytes: number) => new Promise<{ code: number; err?: unknown }>((resolve) => {
    const request = new cache.cache_client._SetRequest({ cache_key: Buffer.from('big'), cache_body: Buffer.alloc(bytes, 1), ttl_milliseconds: 60_000 });
    client['Set']!(request, metadata, (e: { code: number; metadata: Metadata } | null) => resolve(e ? { code: e.code, err: e.metadata.get('err')[0] } : { code: status.OK }));
  });
  const MiB = 1024 * 1024;
  // Defaults: store.maxItemBytes 5 MiB, momento.maxMessageBytes 6 MiB (grpc-js alone takes 4 MiB).
  t.same(await set(4.5 * MiB), { code: status.OK }, 'a 4.5 MiB item is stored');
  t.same(await set(5.5 * MiB), { code: status.RESOURCE_EXHAUSTED, err: 'item_size_limit_exceeded' }, 'a 5.5 MiB one is refused by the store’s limit');
});
