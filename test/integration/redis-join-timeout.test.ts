/** A gsub whose join script Redis ran after the node gave up waiting (redis.commandTimeoutMs): the
 * connection is a member in Redis but not on its node. Asked again, the join must make it a member
 * that gets deliveries (the SDK's Moderator takes ALREADY_EXISTS on a retry for "joined"), and one
 * not asked again must not stay listed in Redis (a member no node delivers to keeps the group from
 * going idle, and an item its one real member nacked waits for it). */
import t, { type Test } from 'tap';
import { Redis } from 'ioredis';
import { startServer } from '../helpers/server.js';
import { requireRedis, startRedis, uniquePrefix } from '../helpers/redis.js';
import { CACHE, RawModerator, SUFFIX, participant } from '../helpers/moderator.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';
import { PermissionScopes, generateSigningKey, type TidingsServer } from '../../src/index.js';

/** A node on a private Redis with one member in group `mods` (`steady`), and a way to make a join
 * that times out on the node but runs in Redis. */
async function setup(t: Test, nodeTimeoutMs: number) {
  const redis = await startRedis(t);
  const prefix = uniquePrefix('jto');
  const config = { auth: { signingKeys: [generateSigningKey()] }, redis: { commandTimeoutMs: 100 }, moderation: { nodeTimeoutMs, ackTimeoutMs: 60_000 } };
  const node = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: prefix, config });
  const side = new Redis(redis.url);
  t.teardown(() => side.disconnect());
  const members = () => side.hkeys(`${prefix}m:${CACHE}\u0000mods\u0000m`);
  const steady = await RawModerator.join(node, { tokenId: 'steady' });
  t.teardown(() => steady.client.close());
  const token = await tokenFor(node, PermissionScopes.moderator(CACHE), { tokenId: 'late' });
  const lateJoin = async (): Promise<RawClient> => {
    const client = await RawClient.open(node, token);
    t.teardown(() => client.close());
    await side.call('CLIENT', 'PAUSE', '300', 'ALL');
    const reply = await client.request({ t: 'gsub', cache: CACHE, group: 'mods', pattern: SUFFIX });
    t.match(reply, { t: 'err', e: { code: /TIMEOUT_ERROR|SERVER_UNAVAILABLE/ } }, 'the join timed out on the node');
    await waitFor('the late join to run in Redis', async () => (await members()).length === 2);
    return client;
  };
  return { node, members, steady, lateJoin, steadyId: idOf(node, 'steady') };
}

function idOf(node: TidingsServer, tokenId: string): string {
  return [...node.broker.sessions.values()].find((s) => s.grant?.tokenId === tokenId)!.id;
}

t.test('a join that timed out but ran in Redis, asked again on the same connection, is a member that gets deliveries', async (t) => {
  if (!requireRedis(t)) return;
  const { node, members, lateJoin } = await setup(t, 60_000); // no tick in this test's time
  const client = await lateJoin();
  const mod = new RawModerator(client);
  t.match(await client.request({ t: 'gsub', cache: CACHE, group: 'mods', pattern: SUFFIX }), { t: 'ok', r: { members: 2 } }, 'the retry is a join');
  t.match(await client.request({ t: 'gsub', cache: CACHE, group: 'mods', pattern: SUFFIX }), { t: 'err', e: { code: 'ALREADY_EXISTS_ERROR' } }, 'once');
  const alice = await participant(node, 'alice');
  t.teardown(() => alice.close());
  for (let i = 0; i < 4; i++) await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: `m${i}` });
  await mod.received(2);
  t.pass('it gets its share');
  t.same(await client.ok({ t: 'gunsub', cache: CACHE, group: 'mods' }), { requeued: 2 }, 'and leaves like any member');
  t.equal((await members()).length, 1);
});

t.test('a join that timed out but ran in Redis and was not asked again does not stay listed there', async (t) => {
  if (!requireRedis(t)) return;
  const { members, lateJoin, steadyId } = await setup(t, 2000);
  const gone = await lateJoin();
  gone.close();
  await gone.waitClosed();
  await waitFor('the member of the failed join to be taken out (connection closed)', async () => (await members()).length === 1);
  const open = await lateJoin();
  await waitFor('the member of the failed join to be taken out (connection open)', async () => (await members()).length === 1);
  t.same(await members(), [steadyId], 'only the member that joined is listed');
  t.match(await open.ok({ t: 'gsub', cache: CACHE, group: 'mods', pattern: SUFFIX }), { members: 2 }, 'a join asked later is an ordinary one');
  t.equal((await members()).length, 2);
});
