import t from 'tap';
import { startServer } from '../helpers/server.js';
import { collector, sdkFor } from '../helpers/sdk.js';
import { PermissionScopes, TopicPresence, type TopicPresenceEvent } from '../../src/client/index.js';
import type { MemoryEngine } from '../../src/index.js';

const roomScope = PermissionScopes.combine(PermissionScopes.topicPublishSubscribe('chat', '*'), PermissionScopes.topicPresence('chat', { namePrefix: 'room' }));

t.test('sdk presence - presence() lists members; onJoin / onLeave follow them', async (t) => {
  const server = await startServer(t, { config: { presence: { leaveGraceMs: 0 } } });
  const mint = async (tokenId: string) => (await server.auth.mintDisposableToken({ scope: roomScope, expiresInSec: 300, tokenId })).token;
  const alice = await sdkFor(t, server, { token: await mint('alice') });
  const events = collector<TopicPresenceEvent>();
  const sub = await alice.topics.subscribe('chat', 'room1', { presence: true, onJoin: events.push, onLeave: events.push });
  t.equal(sub.type, 'Subscription');
  await events.until(1);
  const bob = await sdkFor(t, server, { token: await mint('bob') });
  const bobSub = await bob.topics.subscribe('chat', 'room1', {});
  await events.until(2);
  const listed = await alice.topics.presence('chat', 'room1');
  t.ok(listed instanceof TopicPresence.Success);
  if (listed instanceof TopicPresence.Success) {
    t.same([...listed.members].sort((a, b) => a.tokenId.localeCompare(b.tokenId)), [{ tokenId: 'alice', connections: 1 }, { tokenId: 'bob', connections: 1 }]);
    t.equal(listed.untracked, 0);
  }
  if (bobSub.type === 'Subscription') bobSub.unsubscribe();
  await events.until(3);
  t.same(events.events.map((e) => [e.kind, e.tokenId]), [['join', 'alice'], ['join', 'bob'], ['leave', 'bob']]);
});

t.test('sdk presence - a second local subscriber asking for events upgrades the shared subscription without losing items', async (t) => {
  const server = await startServer(t, { config: { presence: { leaveGraceMs: 2000 } } });
  const mint = async (tokenId: string) => (await server.auth.mintDisposableToken({ scope: roomScope, expiresInSec: 300, tokenId })).token;
  const carol = await sdkFor(t, server, { token: await mint('carol') });
  const items = collector<string>();
  await carol.topics.subscribe('chat', 'room2', { onItem: (i) => items.push(i.valueString()) });
  await carol.topics.publish('chat', 'room2', 'one');
  await items.until(1);
  const events = collector<TopicPresenceEvent>();
  await carol.topics.subscribe('chat', 'room2', { presence: true, onJoin: events.push });
  const dan = await sdkFor(t, server, { token: await mint('dan') });
  await dan.topics.subscribe('chat', 'room2', {});
  await events.until(1);
  t.same(events.events.map((e) => [e.kind, e.tokenId]), [['join', 'dan']], 'carol stayed a member through the upgrade (the grace hid it)');
  await carol.topics.publish('chat', 'room2', 'two');
  t.same(await items.until(2), ['one', 'two'], 'each item once, in order');
});

t.test('sdk presence - refused without the presence permission', async (t) => {
  const server = await startServer(t);
  const eve = await sdkFor(t, server, { tokenId: 'eve' });
  const listed = await eve.topics.presence('chat', 'room1');
  t.equal(listed.type, 'Error');
  if (listed instanceof TopicPresence.Error) t.equal(listed.errorCode(), 'PERMISSION_ERROR');
  const sub = await eve.topics.subscribe('chat', 'room1', { presence: true });
  t.equal(sub.type, 'Error');
});

t.test('sdk presence - a subscriber asking for events while a hole is being refilled gets them once it is', async (t) => {
  // Memory engine on purpose: the fault injection replaces its fan-out.
  const server = await startServer(t, { engine: 'memory', config: { presence: { leaveGraceMs: 2000 } } });
  const mint = async (tokenId: string) => (await server.auth.mintDisposableToken({ scope: roomScope, expiresInSec: 300, tokenId })).token;
  const carol = await sdkFor(t, server, { token: await mint('carol') });
  const items = collector<string>();
  await carol.topics.subscribe('chat', 'room3', { onItem: (i) => items.push(i.valueString()) });
  // Fault injection: item 1 is recorded in the window but never reaches the socket (as when uWS
  // drops frames for a connection whose send buffer overflowed), so item 2 arrives past a hole.
  const engine = server.broker['deps'].engine as MemoryEngine;
  const fanout = engine.topics['fanout'];
  engine.topics['fanout'] = { publish: () => {}, sendTo: () => {} };
  engine.topics.publish('chat', 'room3', 'one', 'carol');
  engine.topics['fanout'] = fanout;
  // Heard after the SDK's own listener: item 2 has just started the refill's resubscription.
  const events = collector<TopicPresenceEvent>();
  let upgraded: Promise<unknown> | undefined;
  carol.connection.onPush((frame) => {
    if (frame['t'] === 'item' && frame['seq'] === 2) upgraded ??= carol.topics.subscribe('chat', 'room3', { presence: true, onJoin: events.push });
  });
  await carol.topics.publish('chat', 'room3', 'two');
  t.same(await items.until(2), ['one', 'two'], 'the hole refilled');
  t.ok(upgraded, 'asked while the refill was in flight');
  t.equal(((await upgraded) as { type: string }).type, 'Subscription');
  const dan = await sdkFor(t, server, { token: await mint('dan') });
  await dan.topics.subscribe('chat', 'room3', {});
  await events.until(1);
  t.same(events.events.map((e) => [e.kind, e.tokenId]), [['join', 'dan']]);
});
