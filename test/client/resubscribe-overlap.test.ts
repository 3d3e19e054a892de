/** The SDK resubscribes an active subscription on an open connection (a second local subscriber
 * asking for presence, a gap in the live stream, a `sub` that timed out) with `after` = the last
 * position it had delivered when it sent the `sub`. Items already on their way to it arrive before
 * the server takes the `sub`, so the replay may start with a `disc` about items the client has in
 * fact delivered meanwhile. That disc must not take the position back: nothing is delivered twice,
 * and no loss is reported where nothing was lost. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { collector, sdkFor } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait.js';
import { PermissionScopes, type TopicDiscontinuity } from '../../src/client/index.js';

const roomScope = PermissionScopes.combine(PermissionScopes.topicPublishSubscribe('chat', '*'), PermissionScopes.topicPresence('chat', { namePrefix: 'room' }));

t.test('sdk resubscribe - a replay disc about items delivered in flight neither repeats them nor reports a loss', async (t) => {
  // A window of 2: three items published between the client's `after` and the server's `sub` are
  // enough for the replay to open with a disc.
  const server = await startServer(t, { config: { topics: { windowItems: 2 } } });
  const token = (await server.auth.mintDisposableToken({ scope: roomScope, expiresInSec: 300, tokenId: 'carol' })).token;
  const carol = await sdkFor(t, server, { token });
  const items = collector<string>();
  const gaps: TopicDiscontinuity[] = [];
  const sub = await carol.topics.subscribe('chat', 'room1', { onItem: (i) => items.push(i.valueString()), onDiscontinuity: (d) => gaps.push(d) });
  t.equal(sub.type, 'Subscription');
  await carol.topics.publish('chat', 'room1', '1');
  await carol.topics.publish('chat', 'room1', '2');
  await items.until(2);
  // On the one connection, in this order: three publishes (their items reach carol's subscription
  // before anything after them is taken), then the presence upgrade's unsub and sub after seq 2.
  const published = ['3', '4', '5'].map((v) => carol.topics.publish('chat', 'room1', v));
  const upgraded = carol.topics.subscribe('chat', 'room1', { presence: true });
  await Promise.all(published);
  t.equal((await upgraded).type, 'Subscription');
  // The last item comes after everything the server sent for the upgrade.
  await carol.topics.publish('chat', 'room1', '6');
  await waitFor('item 6', () => items.events.includes('6'));
  t.same(items.events, ['1', '2', '3', '4', '5', '6'], 'every item once, in order');
  t.same(gaps.map((d) => [d.lastSequenceNumber(), d.newSequenceNumber()]), [], 'no discontinuity: nothing was lost');
});

t.test('sdk resubscribe - a disc counted from the position itself still takes it back (a resumeFrom the topic never reached)', async (t) => {
  const server = await startServer(t);
  const token = (await server.auth.mintDisposableToken({ scope: roomScope, expiresInSec: 300, tokenId: 'dan' })).token;
  const dan = await sdkFor(t, server, { token });
  for (const v of ['1', '2', '3']) await dan.topics.publish('chat', 'room2', v);
  const { page } = server.engine.topics.position('chat', 'room2')!;
  const items = collector<string>();
  const gaps: TopicDiscontinuity[] = [];
  // Seq 9 of the current page does not exist yet: the server says so (a disc from 9 to the window's
  // start) and replays what it holds.
  await dan.topics.subscribe('chat', 'room2', { resumeFrom: { page, seq: 9 }, onItem: (i) => items.push(i.valueString()), onDiscontinuity: (d) => gaps.push(d) });
  await items.until(3);
  t.same(items.events, ['1', '2', '3'], 'the window, in order');
  t.same(gaps.map((d) => [d.lastSequenceNumber(), d.newSequenceNumber(), d.newSequencePage()]), [[9, 1, page]], 'after a disc from the position given');
});
