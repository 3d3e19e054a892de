/** A refreshed credential (`auth`) that no longer allows a moderator group's whole pattern ends that
 * membership, as it ends subscriptions it no longer allows: the reply lists the group in
 * `endedGroups`, the connection is no longer a member (gunsub: FAILED_PRECONDITION_ERROR), its
 * unsettled delivery goes back to the group and on to another member, and no later input reaches it. */
import { startServer, testEachEngine } from '../helpers/server.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { PermissionScopes } from '../../src/index.js';
import { CACHE, RawModerator, SUFFIX, participant } from '../helpers/moderator.js';

const errOf = (reply: Frame) => (reply['t'] === 'err' ? reply['e'] : undefined);

testEachEngine('a refresh that narrows the scope ends the moderator group membership', async (t, engine) => {
  const server = await startServer(t, { engine, config: { limits: { maxGroupsPerTokenId: 1 } } });
  const mod = await RawModerator.join(server, { tokenId: 'mod' });
  t.teardown(() => mod.client.close());
  const alice = await participant(server, 'alice');
  t.teardown(() => alice.close());
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'one' });
  await mod.received(1);

  // Same identity, but the new credential may only use another cache.
  const narrower = await tokenFor(server, PermissionScopes.topicPublishSubscribe('elsewhere', '*'), { tokenId: 'mod' });
  const refreshed = await mod.client.ok({ t: 'auth', token: narrower });
  t.same(refreshed['ended'], [], 'it had no plain subscription');
  t.same(refreshed['endedGroups'], [{ cache: CACHE, group: 'mods' }], 'the group membership is reported ended');

  const other = await RawModerator.join(server, { tokenId: 'mod-2' });
  t.teardown(() => other.client.close());
  await other.received(1);
  t.match(other.deliveries[0], { value: 'one' }, 'the unsettled delivery went to the remaining member');
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'two' });
  await other.received(2);
  t.match(other.deliveries[1], { value: 'two' });
  t.equal(mod.deliveries.length, 1, 'nothing more reached the narrowed connection');
  t.equal(errOf(await mod.client.request({ t: 'gunsub', cache: CACHE, group: 'mods' }))?.code, 'FAILED_PRECONDITION_ERROR', 'it is no longer a member');
  // The ended membership no longer counts for its tokenId (limits.maxGroupsPerTokenId, 1 here).
  await mod.client.ok({ t: 'auth', token: await tokenFor(server, PermissionScopes.moderator(CACHE), { tokenId: 'mod' }) });
  t.equal((await mod.client.request({ t: 'gsub', cache: CACHE, group: 'rejoined', pattern: SUFFIX }))['t'], 'ok', 'given its scope back, it may join a group again');

  // A refresh that still covers the pattern keeps the membership.
  const stillMod = await RawModerator.join(server, { tokenId: 'mod-3', group: 'second' });
  t.teardown(() => stillMod.client.close());
  const same = await tokenFor(server, PermissionScopes.moderator(CACHE), { tokenId: 'mod-3' });
  t.same((await stillMod.client.ok({ t: 'auth', token: same }))['endedGroups'] ?? [], [], 'a covering refresh ends nothing');
  t.equal((await stillMod.client.request({ t: 'gunsub', cache: CACHE, group: 'second' }))['t'], 'ok', 'still a member');
});

/** A refresh that arrives while a gsub is still joining (engine redis: a round trip to Redis) ends
 * that membership too: the connection must not become a member under a token that does not allow
 * the pattern. */
testEachEngine('a refresh that narrows the scope during a join ends the membership being joined', async (t, engine) => {
  const server = await startServer(t, { engine });
  const steady = await RawModerator.join(server, { tokenId: 'steady', policy: () => ({ t: 'accept' }) });
  t.teardown(() => steady.client.close());
  const mod = new RawModerator(await RawClient.open(server, await tokenFor(server, PermissionScopes.moderator(CACHE), { tokenId: 'mod' })));
  t.teardown(() => mod.client.close());
  const narrower = await tokenFor(server, PermissionScopes.topicPublishSubscribe('elsewhere', '*'), { tokenId: 'mod' });
  const joined = mod.client.request({ t: 'gsub', cache: CACHE, group: 'mods', pattern: SUFFIX });
  const refreshed = mod.client.request({ t: 'auth', token: narrower });
  const [join, refresh] = await Promise.all([joined, refreshed]);
  t.equal(refresh['t'], 'ok', 'the refresh is taken');
  if (join['t'] === 'ok') t.same(refresh['r']['endedGroups'], [{ cache: CACHE, group: 'mods' }], 'the joined membership is reported ended');
  else t.equal(errOf(join)?.code, 'PERMISSION_ERROR', 'or the join is refused');

  const alice = await participant(server, 'alice');
  t.teardown(() => alice.close());
  for (let i = 0; i < 4; i++) await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: `m${i}` });
  await steady.received(4);
  t.equal(mod.deliveries.length, 0, 'nothing reached the narrowed connection');
  t.equal(errOf(await mod.client.request({ t: 'gunsub', cache: CACHE, group: 'mods' }))?.code, 'FAILED_PRECONDITION_ERROR', 'it is not a member');
});
