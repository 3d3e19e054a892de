/** Per-identity limits apply to gRPC calls as to WebSocket connections: a Subscribe stream or a call
 * in flight counts as a connection of its tokenId, and every call is charged to the tokenId's rate. */
import t from 'tap';
import { CacheGet, MomentoErrorCode, TopicSubscribe } from '@gomomento/sdk';
import { PermissionScopes } from '../../src/index.js';
import { apiKeyFor, errorCode, momentoClients, startMomentoServer } from '../helpers/momento.js';

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
