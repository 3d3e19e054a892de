/** The gRPC listener's edges: a Subscribe cancelled at once releases its session and stream slot; a
 * malformed protobuf gets a typed status; a revoked credential ends its Subscribe UNAUTHENTICATED
 * (final), not a retryable UNAVAILABLE; a Subscribe whose client stops reading is ended at
 * momento.maxStreamBufferBytes; one resuming from a large window gets all of it; a quiet one gets
 * periodic heartbeats; a cache call whose Redis is cut off or silent gets the status the SDKs retry
 * or time out by. */
import t from 'tap';
import { cache, pubsub } from '@gomomento/generated-types';
import { Metadata, credentials, makeGenericClientConstructor, status, type ServiceDefinition } from '@grpc/grpc-js';
import { PermissionScopes } from '../../src/index.js';
import { apiKeyFor, scsCall, startMomentoServer } from '../helpers/momento.js';
import { proxiedRedis, requireRedis } from '../helpers/redis.js';
import { eventually, waitFor } from '../helpers/wait.js';

type AnyClient = Record<string, (...args: unknown[]) => any> & { close(): void };
function client(port: number, def: unknown, name: string): AnyClient {
  const Client = makeGenericClientConstructor(def as ServiceDefinition, name);
  return new Client(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as AnyClient;
}

t.test('subscribe cancelled at once releases its session and stream slot', async (t) => {
  const server = await startMomentoServer(t, { config: { momento: { maxStreams: 3 } } });
  const key = await apiKeyFor(server);
  const c = client(server.momentoPort!, pubsub.cache_client.pubsub.UnimplementedPubsubService.definition, 'Pubsub');
  t.teardown(() => c.close());
  const md = new Metadata(); md.set('authorization', key);
  for (let i = 0; i < 10; i++) {
    const call = c['Subscribe']!(new pubsub.cache_client.pubsub._SubscriptionRequest({ cache_name: 'chat', topic: 'r' }), md);
    call.on('error', () => {}); call.on('data', () => {});
    call.cancel();
  }
  // Waits for the cancels to be handled (a fixed 300 ms was too short for a loaded machine).
  await waitFor('the cancelled subscribes to release their sessions', () => server.broker.sessions.size === 0).catch(() => {});
  t.equal(server.broker.sessions.size, 0, 'no session left');
  const call = c['Subscribe']!(new pubsub.cache_client.pubsub._SubscriptionRequest({ cache_name: 'chat', topic: 'r' }), md);
  const first = await new Promise<unknown>((resolve) => { call.on('data', (d: unknown) => resolve(d)); call.on('error', (e: unknown) => resolve(e)); });
  t.notOk((first as { code?: number }).code, `subscribe works again: ${JSON.stringify((first as any)?.details ?? 'data')}`);
  call.cancel();
});

t.test('malformed protobuf to Get -> typed status, server alive', async (t) => {
  const server = await startMomentoServer(t);
  const key = await apiKeyFor(server);
  const def = cache.cache_client.UnimplementedScsService.definition as unknown as ServiceDefinition;
  const raw = { ...def, Get: { ...def['Get']!, requestSerialize: (b: Buffer) => b } };
  const c = client(server.momentoPort!, raw, 'Scs');
  t.teardown(() => c.close());
  const md = new Metadata(); md.set('authorization', key); md.set('cache', 'chat');
  const err = await new Promise<any>((resolve) => c['Get']!(Buffer.from([0xff, 0xff, 0xff, 0x0f, 0x12]), md, (e: unknown) => resolve(e)));
  t.ok(err && err.code !== status.OK, `status ${err?.code} ${err?.details}`);
});

t.test('a revoked credential ends its Subscribe stream UNAUTHENTICATED (not a retryable UNAVAILABLE)', async (t) => {
  const server = await startMomentoServer(t);
  const key = await apiKeyFor(server, PermissionScopes.allDataReadWrite(), 'mallory');
  const c = client(server.momentoPort!, pubsub.cache_client.pubsub.UnimplementedPubsubService.definition, 'Pubsub');
  t.teardown(() => c.close());
  const md = new Metadata(); md.set('authorization', key);
  const call = c['Subscribe']!(new pubsub.cache_client.pubsub._SubscriptionRequest({ cache_name: 'chat', topic: 'r' }), md);
  const ended = new Promise<any>((resolve) => call.on('error', resolve));
  await new Promise((resolve) => call.once('data', resolve));
  await server.revoke({ tokenId: 'mallory' } as never);
  const err = await ended;
  t.equal(err.code, status.UNAUTHENTICATED, `ended with ${status[err.code]}: ${err.details}`);
});

t.test('a Subscribe whose client stops reading ends UNAVAILABLE past momento.maxStreamBufferBytes, not buffered without bound', async (t) => {
  // The broker's own slow-consumer rule (server.maxBackpressureBytes) is set far above what is
  // published, so only the stream's bound can end it.
  const server = await startMomentoServer(t, { config: { momento: { maxStreamBufferBytes: 64 * 1024 }, server: { maxBackpressureBytes: 32 * 1024 * 1024, sendBufferHardLimitBytes: 64 * 1024 * 1024 } } });
  const c = client(server.momentoPort!, pubsub.cache_client.pubsub.UnimplementedPubsubService.definition, 'Pubsub');
  t.teardown(() => c.close());
  const md = new Metadata(); md.set('authorization', await apiKeyFor(server));
  const call = c['Subscribe']!(new pubsub.cache_client.pubsub._SubscriptionRequest({ cache_name: 'chat', topic: 'slow' }), md);
  const ended = new Promise<{ code: number; details: string }>((resolve) => call.on('error', resolve));
  let messages = 0;
  const N = 300;
  await new Promise((resolve) => call.once('data', resolve));
  call.pause(); // stops reading: HTTP/2 flow control holds the server's writes
  const everyItem = new Promise<undefined>((resolve) => call.on('data', () => { if (++messages === N) resolve(undefined); }));
  const value = 'x'.repeat(4096);
  for (let i = 0; i < N; i++) await server.engine.topics.publish('chat', 'slow', value, 'backend');
  call.resume();
  // Bounded either way: the stream ends, or (without the bound) every item arrives.
  const outcome = await Promise.race([ended, everyItem]);
  t.equal(outcome?.code, status.UNAVAILABLE, `ended: ${outcome?.details ?? `all ${N} items (1.2 MB) were held for the stalled stream`}`);
  t.match(outcome?.details, /fell too far behind/);
  t.ok(messages < N, `the stream ended before the rest (${messages} of ${N} read)`);
  await waitFor('the stream to release its session', () => server.broker.sessions.size === 0);
  call.cancel();
});

t.test('a Subscribe resuming from a window larger than its catch-up share gets all of it, the replay continued as the client reads', async (t) => {
  // The replay stops while more than server.maxBackpressureBytes / 2 (32 KiB) is unsent and goes
  // on as the stream's writes complete.
  const server = await startMomentoServer(t, { config: { server: { maxBackpressureBytes: 64 * 1024, sendBufferHardLimitBytes: 128 * 1024 } } });
  const N = 100;
  const value = 'x'.repeat(4096);
  for (let i = 0; i < N; i++) await server.engine.topics.publish('chat', 'backlog', value, 'backend');
  const c = client(server.momentoPort!, pubsub.cache_client.pubsub.UnimplementedPubsubService.definition, 'Pubsub');
  t.teardown(() => c.close());
  const md = new Metadata(); md.set('authorization', await apiKeyFor(server));
  // Page 0 names no page the topic has: a discontinuity, then the whole window.
  const call = c['Subscribe']!(new pubsub.cache_client.pubsub._SubscriptionRequest({ cache_name: 'chat', topic: 'backlog', resume_at_topic_sequence_number: 1, sequence_page: 0 }), md);
  call.on('error', () => {});
  const seqs: number[] = [];
  call.on('data', (m: InstanceType<typeof pubsub.cache_client.pubsub._SubscriptionItem>) => { if (m.item) seqs.push(m.item.topic_sequence_number); });
  t.ok(await eventually(() => seqs.length === N), `${seqs.length} of the ${N} items in the window replayed`);
  t.same(seqs, Array.from({ length: N }, (_, i) => i + 1), 'in order, each once');
  call.cancel();
});

t.test('a quiet Subscribe stream gets a heartbeat every server.heartbeatMs, not only the first', async (t) => {
  const server = await startMomentoServer(t, { config: { server: { heartbeatMs: 100 } } });
  const c = client(server.momentoPort!, pubsub.cache_client.pubsub.UnimplementedPubsubService.definition, 'Pubsub');
  t.teardown(() => c.close());
  const md = new Metadata(); md.set('authorization', await apiKeyFor(server));
  const call = c['Subscribe']!(new pubsub.cache_client.pubsub._SubscriptionRequest({ cache_name: 'chat', topic: 'quiet' }), md);
  call.on('error', () => {});
  let heartbeats = 0;
  call.on('data', (m: InstanceType<typeof pubsub.cache_client.pubsub._SubscriptionItem>) => { if (m.heartbeat) heartbeats++; });
  t.ok(await eventually(() => heartbeats >= 4), `${heartbeats} heartbeats: the one subscribe sends, then the periodic ones`);
  call.cancel();
});

t.test('a cache call on a node whose Redis link is down is UNAVAILABLE, one whose Redis stops answering DEADLINE_EXCEEDED (not UNKNOWN)', async (t) => {
  if (!requireRedis(t)) return;
  const { prefix, proxy } = await proxiedRedis(t, 'grpc-redis-down');
  // The link's own watchdog is far off, so a silent Redis is seen by the command's timeout first.
  const server = await startMomentoServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { redis: { commandTimeoutMs: 300, linkTimeoutMs: 10_000, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const call = scsCall(t, server, await apiKeyFor(server));
  const get = async () => (await call('Get', new cache.cache_client._GetRequest({ cache_key: Buffer.from('k') }))).code;
  t.equal(await get(), status.OK);
  proxy.blackhole();
  proxy.reset();
  t.equal(await get(), status.UNAVAILABLE, 'link down: SERVER_UNAVAILABLE, which the SDKs retry');
  proxy.heal();
  await waitFor('the link to come back', async () => (await get()) === status.OK);
  proxy.freeze();
  t.equal(await get(), status.DEADLINE_EXCEEDED, 'no answer within redis.commandTimeoutMs: TIMEOUT_ERROR');
  proxy.heal();
});
