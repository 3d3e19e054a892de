/** A second local subscriber asking for presence while the first `sub` (without it) is still in
 * flight gets its join/leave events: the confirmation looks again and resubscribes with presence. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { collector, sdkFor, statusReached } from '../helpers/sdk.js';
import { PermissionScopes, type TopicPresenceEvent } from '../../src/client/index.js';

const roomScope = PermissionScopes.combine(PermissionScopes.topicPublishSubscribe('chat', '*'), PermissionScopes.topicPresence('chat', { namePrefix: 'room' }));

t.test('presence asked by a second subscriber while the first sub is pending', async (t) => {
  const server = await startServer(t, { config: { presence: { leaveGraceMs: 0 } } });
  const mint = async (tokenId: string) => (await server.auth.mintDisposableToken({ scope: roomScope, expiresInSec: 300, tokenId })).token;
  const carol = await sdkFor(t, server, { token: await mint('carol') });
  await statusReached(carol.connection, 'open');
  const events = collector<TopicPresenceEvent>();
  const first = carol.topics.subscribe('chat', 'room3', {});
  const second = carol.topics.subscribe('chat', 'room3', { presence: true, onJoin: events.push });
  t.equal((await first).type, 'Subscription');
  t.equal((await second).type, 'Subscription');
  const dan = await sdkFor(t, server, { token: await mint('dan') });
  await dan.topics.subscribe('chat', 'room3', {});
  const got = await events.until(1, 10_000).catch((e: Error) => e);
  t.notOk(got instanceof Error, `carol's presence subscriber sees dan join: ${got instanceof Error ? got.message : 'ok'}`);
});
