/** The Moderator helper rejoins its group after a reconnect. When that join fails for a reason
 * that passes (the server's Redis unreachable for a moment: TIMEOUT_ERROR or SERVER_UNAVAILABLE;
 * no room: groups_limit_exceeded), it asks again with backoff instead of staying out of the group,
 * silently idle, until the next reconnect. A group that exists with another pattern is reported,
 * not asked again. */
import t, { type Test } from 'tap';
import { Redis } from 'ioredis';
import { startServer, startServerOnProxiedRedis } from '../helpers/server.js';
import { proxiedRedis, requireRedis } from '../helpers/redis.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { statusReached, WS } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait.js';
import { PermissionScopes, generateSigningKey, type DeepPartial, type TidingsConfig } from '../../src/index.js';
import { Connection, Moderator } from '../../src/client/index.js';

t.test('a rejoin that fails while Redis is away is asked again; items are moderated once it is back', async (t) => {
  const started = await startServerOnProxiedRedis(t);
  if (!started) return;
  const { server, redis } = started;
  const token = await tokenFor(server, PermissionScopes.moderator('chat'), { tokenId: 'moderator' });
  const connection = new Connection({ url: server.wsUrl, token, webSocket: WS, requestTimeoutMs: 1000, reconnectBaseMs: 20, reconnectMaxMs: 100 });
  t.teardown(() => connection.close());
  await connection.ready(10_000);
  const errors: Array<{ code?: string }> = [];
  const seen: string[] = [];
  const moderator = await Moderator.start({
    connection, cache: 'chat', onError: (err) => errors.push(err as { code?: string }),
    moderate: ({ value }) => { seen.push(String(value)); return { accept: true }; },
  });
  t.teardown(() => moderator.stop());
  // The server loses Redis, and the moderator's link drops: its rejoin cannot succeed for now.
  redis.blackhole();
  redis.reset();
  const id = (connection.status as { connectionId: string }).connectionId;
  server.broker.sessions.get(id)!.connection.close(4000, 'test: drop the link');
  await statusReached(connection, 'reconnecting');
  await waitFor('the rejoin to fail', () => errors.length > 0);
  t.match(errors[0], { code: /TIMEOUT_ERROR|SERVER_UNAVAILABLE/ }, 'reported');
  redis.heal();
  const alice = await RawClient.open(server, await tokenFor(server, PermissionScopes.chatParticipant('chat', 'room1'), { tokenId: 'alice' }));
  t.teardown(() => alice.close());
  await waitFor('a publish once Redis is back', async () => (await alice.request({ t: 'pub', cache: 'chat', topic: 'room1-input', value: 'hi' }))['t'] === 'ok');
  await waitFor('the item moderated', () => seen.includes('hi'));
  t.same(seen, ['hi'], 'the moderator is a member again, on the same link');
  t.ok(moderator.stats.joins >= 2 || moderator.stats.accepted === 1, `rejoined (${JSON.stringify(moderator.stats)})`);
});

/** Moderator.start() on a connection that is reconnecting: its gsub waits in the queue, and the
 * reconnect hook it has just registered would join as well (the hook runs before the queue goes
 * out). The second gsub of the link was refused ALREADY_EXISTS_ERROR: start() rejected and took its
 * listeners away, while the link stayed a member that the group kept handing items to. */
t.test('a moderator started while its connection reconnects joins once and moderates', async (t) => {
  const server = await startServer(t, { engine: 'memory' });
  const token = await tokenFor(server, PermissionScopes.moderator('chat'), { tokenId: 'moderator' });
  const connection = new Connection({ url: server.wsUrl, token, webSocket: WS, reconnectBaseMs: 50, reconnectMaxMs: 100 });
  t.teardown(() => connection.close());
  await connection.ready(10_000);
  const errors: unknown[] = [];
  const seen: string[] = [];
  let starting: Promise<Moderator> | undefined;
  // Started in the status listener: its gsub is queued, never sent on the old link.
  const off = connection.onStatus((status) => {
    if (status.state !== 'reconnecting' || starting) return;
    starting = Moderator.start({
      connection, cache: 'chat', onError: (err) => errors.push(err),
      moderate: ({ value }) => { seen.push(String(value)); return { accept: true }; },
    });
  });
  t.teardown(off);
  const id = (connection.status as { connectionId: string }).connectionId;
  server.broker.sessions.get(id)!.connection.close(4000, 'test: drop the link');
  await statusReached(connection, 'reconnecting');
  const moderator = await starting!;
  t.teardown(() => moderator.stop());
  t.equal(moderator.stats.joins, 1, 'one join on the new link');
  const alice = await RawClient.open(server, await tokenFor(server, PermissionScopes.chatParticipant('chat', 'room1'), { tokenId: 'alice' }));
  t.teardown(() => alice.close());
  t.match(await alice.request({ t: 'pub', cache: 'chat', topic: 'room1-input', value: 'hi' }), { t: 'ok' });
  await waitFor('the item moderated', () => seen.includes('hi'));
  t.same(errors, [], 'nothing reported');
});

/** The server ends a membership it cannot register again (engine redis: node a was taken for gone,
 * and when it came back its group had been forgotten and another took the deployment's only place,
 * moderation.maxGroups 1): it pushes `gend`. The helper joins again and reports the refusal to
 * onError, as after a reconnect; before, it ignored the push and sat idle, saying nothing. The
 * proxy cuts node a's links (open and new ones) until node b has reaped node a's member. */
t.test('a membership the server ended is joined again, the refusal reported', async (t) => {
  if (!requireRedis(t)) return;
  const { url, prefix, proxy } = await proxiedRedis(t, 'sdkgend');
  const groupIdleMs = 300;
  const moderation = { nodeTimeoutMs: 1000, ackTimeoutMs: 60_000, groupIdleMs, maxGroups: 1 };
  const signingKeys = [generateSigningKey()];
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { auth: { signingKeys }, moderation, redis: { commandTimeoutMs: 300, linkTimeoutMs: 400, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config: { auth: { signingKeys }, moderation } });
  const connection = new Connection({ url: a.wsUrl, token: await tokenFor(a, PermissionScopes.moderator('chat'), { tokenId: 'moderator' }), webSocket: WS });
  t.teardown(() => connection.close());
  await connection.ready(10_000);
  const errors: Array<{ code?: string; limitCause?: string }> = [];
  const moderator = await Moderator.start({ connection, cache: 'chat', onError: (err) => errors.push(err as { code?: string }), moderate: () => ({ accept: true }) });
  t.teardown(() => moderator.stop());
  const side = new Redis(url);
  t.teardown(() => side.disconnect());
  const members = `${prefix}m:chat\u0000moderators\u0000m`;

  proxy.freeze();
  proxy.blackhole();
  await waitFor('node b to reap node a\'s member', async () => (await side.hlen(members)) === 0);
  // Idle past groupIdleMs: the join below forgets it to make room (the time passing is what is waited for).
  await new Promise((r) => setTimeout(r, groupIdleMs));
  const other = await RawClient.open(b, await tokenFor(b, PermissionScopes.moderator('chat'), { tokenId: 'other' }));
  t.teardown(() => other.close());
  await other.ok({ t: 'gsub', cache: 'chat', group: 'other', pattern: { nameSuffix: '-input' } });
  proxy.heal();

  await waitFor('the refused rejoin to be reported', () => errors.length > 0);
  t.match(errors, [{ code: 'LIMIT_EXCEEDED_ERROR', limitCause: 'groups_limit_exceeded' }], 'reported with the typed error');
  t.equal(moderator.stats.joins, 1, 'not a member again');
});

/** The moderator's link through a proxy, cut (blackhole, reset) so the server lets its membership
 * go; `whileAway` then takes its place on the server (the test waits until it could), and the
 * healed link rejoins. The helper sees the real Connection through a link that counts how often
 * it asks for a retry's backoff. */
async function rejoinRefused(t: Test, config: DeepPartial<TidingsConfig>, whileAway: (other: RawClient) => Promise<boolean>) {
  const server = await startServer(t, { engine: 'memory', config });
  const proxy = await startTcpProxy(server.port);
  t.teardown(() => proxy.close());
  const token = await tokenFor(server, PermissionScopes.moderator('chat'), { tokenId: 'moderator' });
  const connection = new Connection({ url: `ws://127.0.0.1:${proxy.port}/v1/ws`, token, webSocket: WS, connectTimeoutMs: 500, reconnectBaseMs: 20, reconnectMaxMs: 100 });
  t.teardown(() => connection.close());
  await connection.ready(10_000);
  const retries = { asked: 0 };
  const link = {
    request: (frame: { t: string }) => connection.request(frame as Parameters<Connection['request']>[0]),
    onPush: (listener: (frame: Record<string, unknown>) => void) => connection.onPush(listener),
    onReconnect: (listener: () => void) => connection.onReconnect(listener),
    backoffDelay: (attempt: number) => { retries.asked++; return connection.backoffDelay(attempt); },
  };
  const errors: Array<{ code?: string; limitCause?: string }> = [];
  const seen: string[] = [];
  const moderator = await Moderator.start({
    connection: link, cache: 'chat', onError: (err) => errors.push(err as { code?: string }),
    moderate: ({ value }) => { seen.push(String(value)); return { accept: true }; },
  });
  t.teardown(() => moderator.stop());
  // The same tokenId; allowed any pattern in the cache.
  const anyPattern = PermissionScopes.combine(PermissionScopes.moderator('chat'), PermissionScopes.topicPublishSubscribe('chat', '*'));
  const other = await RawClient.open(server, await tokenFor(server, anyPattern, { tokenId: 'moderator' }));
  t.teardown(() => other.close());
  proxy.blackhole();
  proxy.reset();
  await waitFor('the moderator\'s place taken while it is away', () => whileAway(other));
  proxy.heal();
  await waitFor('the refused rejoin to be reported', () => errors.length > 0);
  return { server, moderator, other, errors, seen, retries };
}

t.test('a rejoin refused by the groups limit is asked again, and joins once room frees up', async (t) => {
  const { server, moderator, other, errors, seen } = await rejoinRefused(t, { limits: { maxGroupsPerTokenId: 1 } },
    async (other) => (await other.request({ t: 'gsub', cache: 'chat', group: 'side', pattern: { namePrefix: 'side-' } }))['t'] === 'ok');
  t.match(errors[0], { code: 'LIMIT_EXCEEDED_ERROR', limitCause: 'groups_limit_exceeded' }, 'reported with the typed error');
  await other.ok({ t: 'gunsub', cache: 'chat', group: 'side' });
  await waitFor('the rejoin asked again until it is accepted', () => moderator.stats.joins === 2);
  const alice = await RawClient.open(server, await tokenFor(server, PermissionScopes.chatParticipant('chat', 'room1'), { tokenId: 'alice' }));
  t.teardown(() => alice.close());
  await alice.ok({ t: 'pub', cache: 'chat', topic: 'room1-input', value: 'hi' });
  await waitFor('the item moderated', () => seen.includes('hi'));
  t.same(seen, ['hi'], 'a member again');
});

t.test('a rejoin refused because the group exists with another pattern is reported and not asked again: the app must act', async (t) => {
  const { moderator, errors, retries } = await rejoinRefused(t, { moderation: { groupIdleMs: 100 } },
    // Accepted once the moderator's group, memberless, was idle past groupIdleMs and forgotten.
    async (other) => (await other.request({ t: 'gsub', cache: 'chat', group: 'moderators', pattern: { namePrefix: 'other-' } }))['t'] === 'ok');
  t.match(errors, [{ code: 'FAILED_PRECONDITION_ERROR', message: /exists with another pattern/ }], 'reported with the typed error');
  t.equal(retries.asked, 0, 'no retry scheduled');
  t.equal(moderator.stats.joins, 1, 'not a member again');
});
