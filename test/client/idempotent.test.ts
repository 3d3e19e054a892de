/** Idempotent writes: a link cut between a publish being applied and its `ok` leaves no "maybe".
 * The SDK sends the publish again after reconnecting with the same idempotency key; the server
 * answers the first result, and subscribers get the item exactly once. For a token without
 * tokenId (keys remembered per connection) the SDK does not resend: an honest "maybe" instead.
 * Writes waiting to be resent stay within the queue's count and byte bounds: those that do not fit
 * fail with CONNECTION_ERROR and are never sent again. Cache writes that take a key (a sorted set's
 * score increment here) are resent the same way. An app's own key (`{ idempotencyKey }`) is
 * checked as the server checks it. */
import t from 'tap';
import { startServer, testEachEngine } from '../helpers/server.js';
import { sdkFor, itemCollector, chatScope } from '../helpers/sdk.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { PermissionScopes, type PublishedItem, type TidingsServer } from '../../src/index.js';
import { CacheSortedSetIncrementScore, TopicPublish, type TidingsClientError } from '../../src/client/index.js';
import type { OutgoingFrame } from '../../src/client/connection.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';

/** Fault injection at the server's publish hook: after the first item to "cut" is stamped and
 * fanned out, its publisher's connection drops, so the `ok` never reaches the SDK. Armed by the
 * first admission, not the first cut: the Redis engine admits the publishes in flight before the
 * first one is stamped, and only one of them may cut. */
function cutAfterFirstPublish(server: TidingsServer, code = 4000, reason = 'test: cut the link'): { count: number } {
  const cuts = { count: 0 };
  let armed = true;
  server.broker['deps'].engine.topics.addPublishHook({
    admit: (_cache, topic) => {
      if (topic !== 'cut' || !armed) return undefined;
      armed = false;
      return true;
    },
    published: (item: PublishedItem) => { cuts.count++; server.broker.sessions.get(item.origin!)?.connection.close(code, reason); },
  });
  return cuts;
}

testEachEngine('idempotent - a publish whose reply was lost to a cut link is retried by the SDK and delivered exactly once', async (t, engine) => {
  const server = await startServer(t, { engine });
  const cuts = cutAfterFirstPublish(server);
  const watcher = await sdkFor(t, server, { tokenId: 'watcher' });
  const got = itemCollector();
  await watcher.topics.subscribe('chat', 'cut', got.callbacks);
  const publisher = await sdkFor(t, server, { tokenId: 'publisher' });
  await publisher.connection.ready();
  const response = await publisher.topics.publish('chat', 'cut', 'once');
  t.ok(response instanceof TopicPublish.Success, `the app sees success (${response})`);
  t.equal(cuts.count, 1, 'the link was cut after the first attempt was applied');
  await publisher.topics.publish('chat', 'cut', 'after');
  await got.items.until(2);
  t.same(got.values(), ['once', 'after'], 'the retried item arrived exactly once');
});

testEachEngine('idempotent - a publish in flight at a 4501 close (token expired) is sent again once the token provider gave a fresh token', async (t, engine) => {
  const server = await startServer(t, { engine });
  const cuts = cutAfterFirstPublish(server, 4501, 'token expired');
  const watcher = await sdkFor(t, server, { tokenId: 'watcher' });
  const got = itemCollector();
  await watcher.topics.subscribe('chat', 'cut', got.callbacks);
  let minted = 0;
  const tokenProvider = async () => { minted++; return (await server.auth.mintDisposableToken({ scope: chatScope, expiresInSec: 300, tokenId: 'publisher' })).token; };
  const publisher = await sdkFor(t, server, { tokenProvider });
  await publisher.connection.ready();
  // The SDK reconnects after a 4501 with a token from the provider, as after a network drop: the
  // write in flight is resent there, not failed as "maybe applied".
  const response = await publisher.topics.publish('chat', 'cut', 'once');
  t.ok(response instanceof TopicPublish.Success, `the app sees success (${response})`);
  t.equal(cuts.count, 1, 'the link was closed with 4501 after the first attempt was applied');
  t.equal(minted, 2, 'the reconnect asked the provider for a fresh token');
  await publisher.topics.publish('chat', 'cut', 'after');
  await got.items.until(2);
  t.same(got.values(), ['once', 'after'], 'the retried item arrived exactly once');
});

testEachEngine('idempotent - the server answers a repeated key with the first result and applies nothing', async (t, engine) => {
  const server = await startServer(t, { engine });
  const token = await tokenFor(server, PermissionScopes.combine(PermissionScopes.topicPublishSubscribe('chat', '*'), PermissionScopes.cacheReadWrite('chat')), { tokenId: 'writer' });
  const a = await RawClient.open(server, token);
  const first = await a.ok({ t: 'pub', cache: 'chat', topic: 'k', value: 'x', idempotencyKey: 'k-1' });
  const b = await RawClient.open(server, token);
  t.same(await b.ok({ t: 'pub', cache: 'chat', topic: 'k', value: 'x', idempotencyKey: 'k-1' }), first, 'same answer on another connection of the same tokenId');
  const next = await b.ok({ t: 'pub', cache: 'chat', topic: 'k', value: 'y', idempotencyKey: 'k-2' });
  t.equal(next['seq'], first['seq'] + 1, 'the repeat took no seq');
  const push = await a.ok({ t: 'listPushBack', cache: 'chat', list: 'l', value: 'v', idempotencyKey: 'l-1' });
  t.same(await a.ok({ t: 'listPushBack', cache: 'chat', list: 'l', value: 'v', idempotencyKey: 'l-1' }), push, 'list pushes too');
  t.same(await a.ok({ t: 'listLength', cache: 'chat', list: 'l' }), { hit: true, length: 1 }, 'applied once');
  t.match(await a.request({ t: 'pub', cache: 'chat', topic: 'k', value: 'x', idempotencyKey: 42 }), { t: 'err', e: { code: 'INVALID_ARGUMENT_ERROR', message: /idempotencyKey/ } });
  const anonymous = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', '*')));
  const own = await anonymous.ok({ t: 'pub', cache: 'chat', topic: 'k', value: 'z', idempotencyKey: 'k-1' });
  t.not(own['seq'], first['seq'], "another credential's key space is its own");
});

testEachEngine('idempotent - an SDK publish retried after a cut link is not duplicated for a token without tokenId', async (t, engine) => {
  const server = await startServer(t, { engine });
  const cuts = cutAfterFirstPublish(server);
  const watcher = await sdkFor(t, server, { tokenId: 'watcher' });
  const got = itemCollector();
  await watcher.topics.subscribe('chat', 'cut', got.callbacks);
  const anonymous = (await server.auth.mintDisposableToken({ scope: chatScope, expiresInSec: 300 })).token;
  const publisher = await sdkFor(t, server, { token: anonymous });
  await publisher.connection.ready();
  const response = await publisher.topics.publish('chat', 'cut', 'once');
  // Either the first result, or an honest "maybe" (the server cannot deduplicate across links
  // for a credential without tokenId): never a silent second copy.
  t.ok(response instanceof TopicPublish.Success || response.toString().includes('may or may not'), `success or an honest maybe (${response})`);
  t.equal(cuts.count, 1, 'the link was cut after the first attempt was applied');
  await publisher.topics.publish('chat', 'cut', 'after');
  await got.items.until(2);
  await new Promise((r) => setTimeout(r, 200));
  t.same(got.values(), ['once', 'after'], 'the retried item arrived exactly once');
});

for (const bound of ['maxQueuedRequests', 'maxQueuedBytes'] as const) {
  testEachEngine(`idempotent - writes re-queued after a cut link stay within ${bound}; each settles once, none is applied twice`, async (t, engine) => {
    const server = await startServer(t, { engine });
    const cuts = cutAfterFirstPublish(server);
    const watcher = await sdkFor(t, server, { tokenId: 'watcher' });
    const got = itemCollector();
    await watcher.topics.subscribe('chat', 'cut', got.callbacks);
    // Frames of ~4 KB: two fit in 10,000 bytes, as two fit in a count bound of 2.
    const limits = bound === 'maxQueuedRequests' ? { maxQueuedRequests: 2 } : { maxQueuedBytes: 10_000 };
    const publisher = await sdkFor(t, server, { tokenId: 'publisher', ...limits });
    await publisher.connection.ready();
    const highest = { requests: 0, bytes: 0 };
    publisher.connection.onStatus(() => {
      const q = publisher.connection.queued;
      highest.requests = Math.max(highest.requests, q.requests);
      highest.bytes = Math.max(highest.bytes, q.bytes);
    });
    const values = Array.from({ length: 6 }, (_, i) => `${i}`.padEnd(4000, 'v'));
    const settled = values.map(() => 0);
    // All six are in flight when the server cuts the link after applying the first.
    const results = await Promise.all(values.map((v, i) => publisher.topics.publish('chat', 'cut', v, { timeoutMs: 10_000 })
      .then((r) => { settled[i]!++; return r; })));
    t.equal(cuts.count, 1, 'the link was cut after the first write was applied');
    t.same(settled, values.map(() => 1), 'each promise settled once');
    t.equal(highest.requests, 2, 'two writes waited to be sent again (seen at a status change)');
    t.ok(highest.requests <= (limits.maxQueuedRequests ?? 1000), `the queue held at most ${highest.requests} requests`);
    t.ok(highest.bytes <= (limits.maxQueuedBytes ?? 8 * 1024 * 1024), `the queue held at most ${highest.bytes} bytes`);
    const ok = results.flatMap((r, i) => (r instanceof TopicPublish.Success ? [i] : []));
    const refused = results.flatMap((r, i) => (r instanceof TopicPublish.Error ? [i] : []));
    t.same(ok, [0, 1], 'the oldest writes that fit were sent again and acknowledged');
    t.same(refused, [2, 3, 4, 5], 'the rest failed');
    for (const i of refused) {
      const error = results[i] as TopicPublish.Error;
      t.equal(error.errorCode(), 'CONNECTION_ERROR');
      t.match(error.message(), /the queue is full .*is not sent again; it may or may not have been applied/);
      t.equal(error.limitCause(), undefined, 'sent once, so a lost-link error ("maybe"), not the "was not sent" queue-full cause');
    }
    // Items arrive in seq order: once the marker is here, every write the server applied is too.
    // The refused ones may have been applied before the cut (the Redis engine runs the six at
    // once), but at most once each.
    await publisher.topics.publish('chat', 'cut', 'after');
    for (let n = 1; !got.values().includes('after'); n++) await got.items.until(n);
    const seen = got.values();
    t.equal(seen.at(-1), 'after', 'every write before the marker has been delivered');
    t.same(seen.filter((v) => ok.some((i) => values[i] === v)), ok.map((i) => values[i]), 'the acknowledged writes arrived exactly once, in order');
    t.equal(new Set(seen).size, seen.length, 'no write arrived twice');
  });
}

testEachEngine('idempotent - a sortedSetIncrementScore whose reply was lost to a cut link is sent again after reconnecting and counted once', async (t, engine) => {
  const server = await startServer(t, { engine });
  const proxy = await startTcpProxy(Number(new URL(server.httpUrl).port));
  t.teardown(() => proxy.close());
  const { cache, connection } = await sdkFor(t, server, { tokenId: 'scorer', url: `http://127.0.0.1:${proxy.port}` });
  await connection.ready();
  const reader = await RawClient.open(server, await tokenFor(server, PermissionScopes.cacheReadWrite('chat'), { tokenId: 'reader' }));
  t.teardown(() => reader.close());
  const score = async () => ((await reader.ok({ t: 'sortedSetGetScores', cache: 'chat', sortedSet: 'board', values: ['ada'] }))['scores'] as unknown[] | undefined)?.[0];

  proxy.hold(0); // the server's answers on this link are kept: its reply is lost with the link
  const response = cache.sortedSetIncrementScore('chat', 'board', 'ada', 2);
  await waitFor('the server applied the increment', async () => (await score()) === 2);
  proxy.reset();
  const result = await response;
  t.ok(result instanceof CacheSortedSetIncrementScore.Success, `the app sees success, not a "maybe" (${result})`);
  t.equal((result as CacheSortedSetIncrementScore.Success).score(), 2, 'the first result');
  t.equal(await score(), 2, 'the retry after reconnecting was answered, not added again');
});

t.test('idempotent - a raw frame whose idempotencyKey is null has no key: a keyed write gets one and is applied once, another request is not sent again', async (t) => {
  const server = await startServer(t);
  const proxy = await startTcpProxy(Number(new URL(server.httpUrl).port));
  t.teardown(() => proxy.close());
  const watcher = await sdkFor(t, server, { tokenId: 'watcher' });
  const got = itemCollector();
  await watcher.topics.subscribe('chat', 'null-key', got.callbacks);
  await watcher.cache.listConcatenateBack('chat', 'null-key', ['a', 'b']);
  const length = async () => {
    const list = await watcher.connection.request({ t: 'listLength', cache: 'chat', list: 'null-key' });
    return list.hit ? list.length : 0;
  };
  const writer = await sdkFor(t, server, { tokenId: 'writer', url: `http://127.0.0.1:${proxy.port}` });
  await writer.connection.ready();

  proxy.hold(0); // the server's answers on this link are kept: their replies are lost with the link
  // Untyped frames, as an encoder that writes nil for an unset field sends them: the server reads
  // null as absent (docs/protocol.md), so neither carries a key.
  const published = writer.connection.request({ t: 'pub', cache: 'chat', topic: 'null-key', value: 'once', idempotencyKey: null } as unknown as OutgoingFrame<'pub'>);
  const popped = writer.connection.request({ t: 'listPopBack', cache: 'chat', list: 'null-key', idempotencyKey: null } as unknown as OutgoingFrame<'listPopBack'>)
    .then(() => undefined, (err: TidingsClientError) => err);
  await got.items.until(1);
  await waitFor('the server applied the pop', async () => (await length()) === 1);
  proxy.reset();
  t.match(await published, { seq: 1 }, 'the publish was sent again with the key the SDK gave it, and answered the first result');
  t.match(await popped, { code: 'CONNECTION_ERROR', message: /may or may not have been applied/ }, 'the pop, which nothing deduplicates, was not sent again');
  await writer.topics.publish('chat', 'null-key', 'after');
  await got.items.until(2);
  t.same(got.values(), ['once', 'after'], 'published once');
  t.equal(await length(), 1, 'popped once');
});

t.test('idempotent - an idempotencyKey the server would refuse, or on a call that takes none, is refused with INVALID_ARGUMENT_ERROR and not sent', async (t) => {
  const server = await startServer(t);
  const { cache, topics, connection } = await sdkFor(t, server, { tokenId: 'writer' });
  await connection.ready();
  for (const idempotencyKey of ['', 'k'.repeat(129), 42, null] as unknown as string[]) {
    const increment = await cache.increment('chat', 'count', 1, { idempotencyKey });
    const published = await topics.publish('chat', 'room', 'x', { idempotencyKey });
    for (const response of [increment, published]) {
      t.equal(response.type === 'Error' && response.errorCode(), 'INVALID_ARGUMENT_ERROR', `idempotencyKey ${JSON.stringify(idempotencyKey)}: ${response}`);
      t.match(response.type === 'Error' && response.message(), /idempotencyKey must be a string of 1 to 128 characters \(it was not sent\)/);
    }
  }
  // From JavaScript (the types do not take it): a key on a write the server does not deduplicate.
  const set = await cache.set('chat', 'plain', 'v', { idempotencyKey: 'set-1' } as object);
  t.equal(set.type === 'Error' && set.errorCode(), 'INVALID_ARGUMENT_ERROR', String(set));
  t.match(set.type === 'Error' && set.message(), /idempotencyKey is not taken by "set"/);
  t.equal((await cache.get('chat', 'count')).type, 'Miss', 'no increment was applied');
  t.equal((await cache.get('chat', 'plain')).type, 'Miss', 'the set was not applied');
  // The server's bound: 128 characters is a key, and a second call with it is the same write.
  const longest = { idempotencyKey: 'k'.repeat(128) };
  t.equal((await cache.increment('chat', 'count', 1, longest)).value(), 1);
  t.equal((await cache.increment('chat', 'count', 1, longest)).value(), 1, 'the repeat hears the first result');
  t.equal((await cache.get('chat', 'count')).value(), '1', 'applied once');
});
