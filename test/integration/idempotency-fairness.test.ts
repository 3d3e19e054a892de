/** The remembered results of idempotent writes are bounded (server.maxIdempotencyKeys), but one
 * credential writing many keys must not push out another's: a user whose reply was lost and who
 * retries within the window must not have the write applied twice because someone else wrote a
 * burst of keys meanwhile. Past the bound, the credential holding the most keys loses its oldest.
 * A repeated key is answered only to a credential whose own scope allows the write.
 * Against a real server over real WebSockets, both engines (Redis keeps every result itself). */
import { PermissionScopes } from '../../src/index.js';
import { startServer, testEachEngine } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';

const scope = PermissionScopes.topicPublishSubscribe('chat', '*');

testEachEngine('a burst of idempotency keys from one tokenId does not evict another tokenId\'s', async (t, engine) => {
  const max = 40;
  const server = await startServer(t, { engine, config: { server: { maxIdempotencyKeys: max } } });
  const victim = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'victim' }));
  const flooder = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'flooder' }));
  const flooderWithout = await RawClient.open(server, await tokenFor(server, scope));
  t.teardown(() => { victim.close(); flooder.close(); flooderWithout.close(); });

  const first = await victim.ok({ t: 'pub', cache: 'chat', topic: 'room', value: 'once', idempotencyKey: 'v-1' });
  // Ten times the bound, from a tokenId and from a credential without one (keys per connection).
  for (let i = 0; i < 5 * max; i++) {
    flooder.send({ t: 'pub', cache: 'chat', topic: 'noise', value: 'n', idempotencyKey: `f-${i}` });
    flooderWithout.send({ t: 'pub', cache: 'chat', topic: 'noise-w', value: 'n', idempotencyKey: `w-${i}` });
  }
  const newest = await flooder.ok({ t: 'pub', cache: 'chat', topic: 'noise', value: 'n', idempotencyKey: 'f-newest' });
  await flooderWithout.ok({ t: 'ping' });

  // The victim's retry (its reply was "lost") is answered with the first result, not applied again.
  const retry = await victim.ok({ t: 'pub', cache: 'chat', topic: 'room', value: 'once', idempotencyKey: 'v-1' });
  t.same(retry, first, 'the retry gets the first result');
  const next = await victim.ok({ t: 'pub', cache: 'chat', topic: 'room', value: 'next' });
  t.equal(next['seq'], first['seq'] + 1, 'the retry made no second item');

  // The flooder's own recent keys still deduplicate: it loses its oldest, not its newest.
  t.same(await flooder.ok({ t: 'pub', cache: 'chat', topic: 'noise', value: 'n', idempotencyKey: 'f-newest' }), newest, 'its newest key is still remembered');
  if (engine === 'memory') t.ok(server.broker.idempotent.size <= max, `at most ${max} remembered (${server.broker.idempotent.size})`);
});

testEachEngine('a NUL in a tokenId or an idempotency key makes no other (tokenId, key) pair\'s key', async (t, engine) => {
  const server = await startServer(t, { engine });
  // Scopes and keys were joined by NUL, which both may hold: ("a\0pub\0x", "k") and ("a", "x\0pub\0k") were one key.
  const first = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'a\u0000pub\u0000x' }));
  const second = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'a' }));
  t.teardown(() => { first.close(); second.close(); });
  const pub = { t: 'pub', cache: 'chat', topic: 'room' };
  const applied = await first.ok({ ...pub, value: 'first', idempotencyKey: 'k' });
  t.equal((await second.ok({ ...pub, value: 'second', idempotencyKey: 'x\u0000pub\u0000k' }))['seq'], applied['seq'] + 1, 'the second pair\'s write is applied, not answered the first\'s result');
  t.same(await first.ok({ ...pub, value: 'first', idempotencyKey: 'k' }), applied, 'and the first pair\'s retry still gets its own');
});

testEachEngine('a repeated idempotency key is answered only within the scope of the credential repeating it', async (t, engine) => {
  const server = await startServer(t, { engine });
  // Two credentials of one tokenId (two keys may both mint it, docs/tokens.md): the first may
  // write the counter, the second may not even read it.
  const writer = await RawClient.open(server, await tokenFor(server, PermissionScopes.cacheReadWrite('bank'), { tokenId: 'alice' }));
  const other = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'alice' }));
  const publicOnly = await RawClient.open(server, await tokenFor(server, PermissionScopes.cacheKeyPrefixReadWrite('bank', 'public-'), { tokenId: 'alice' }));
  t.teardown(() => { writer.close(); other.close(); publicOnly.close(); });
  const increment = { t: 'increment', cache: 'bank', key: 'balance', amount: 5, idempotencyKey: 'k-1' };
  t.same(await writer.ok(increment), { value: 5 }, 'the first credential increments');
  t.match(await other.request(increment), { t: 'err', e: { code: 'PERMISSION_ERROR' } }, 'the second, repeating its key, is refused, not told the counter');
  t.match(await other.request({ t: 'pub', cache: 'bank', topic: 'x', value: 'v', idempotencyKey: 'k-2' }), { t: 'err', e: { code: 'PERMISSION_ERROR' } }, 'as it is without a repeat');
  // The key on a key the third may write is its own write, not answered what the first one held.
  t.same(await publicOnly.ok({ ...increment, key: 'public-counter', amount: 1 }), { value: 1 }, 'the same key on another target is another write');
  // The first credential's own retry still gets its first result.
  t.same(await writer.ok(increment), { value: 5 }, 'the retry of the writer is not applied again');
});
