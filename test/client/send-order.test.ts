/** Requests go out in the order they were made: one made by a status listener when the connection
 * opens (first open or reconnect) is sent after the requests that waited in the queue, never
 * before them. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { sdkFor, itemCollector, statusReached, chatScope, WS } from '../helpers/sdk.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { Connection, TopicClient, TopicPublish } from '../../src/client/index.js';

const seqOf = (r: TopicPublish.Response) => {
  if (!(r instanceof TopicPublish.Success)) throw new Error(`publish failed: ${r}`);
  return r.seq;
};

t.test('send order - a publish made on "open" goes out after the one queued while connecting', async (t) => {
  const server = await startServer(t);
  const watcher = await sdkFor(t, server, { tokenId: 'watcher' });
  const got = itemCollector();
  await watcher.topics.subscribe('chat', 'first-open', got.callbacks);

  const token = (await server.auth.mintDisposableToken({ scope: chatScope, expiresInSec: 300, tokenId: 'order' })).token;
  const connection = new Connection({ url: server.wsUrl, token, webSocket: WS });
  t.teardown(() => connection.close());
  t.equal(connection.status.state, 'connecting');
  const topics = new TopicClient({ connection });
  const a = topics.publish('chat', 'first-open', 'A');
  t.equal(connection.queued.requests, 1, 'A waits in the queue');
  let b: Promise<TopicPublish.Response> | undefined;
  connection.onStatus((s) => { if (s.state === 'open' && !b) b = topics.publish('chat', 'first-open', 'B'); });

  const seqA = seqOf(await a);
  await statusReached(connection, 'open');
  t.ok(b, 'the listener published on open');
  const seqB = seqOf(await b!);
  t.ok(seqA < seqB, `A (seq ${seqA}) was applied before B (seq ${seqB})`);
  await got.items.until(2);
  t.same(got.values(), ['A', 'B'], 'a subscriber sees them in the order they were made');
});

t.test('send order - a publish made on "open" after a reconnect goes out after the ones queued while offline', async (t) => {
  const server = await startServer(t);
  const proxy = await startTcpProxy(server.port);
  t.teardown(() => proxy.close());
  const watcher = await sdkFor(t, server, { tokenId: 'watcher' });
  const got = itemCollector();
  await watcher.topics.subscribe('chat', 'reconnect', got.callbacks);

  const sdk = await sdkFor(t, server, { url: `ws://127.0.0.1:${proxy.port}/v1/ws`, tokenId: 'order' });
  await sdk.connection.ready();
  const offline: Array<Promise<TopicPublish.Response>> = [];
  let online: Promise<TopicPublish.Response> | undefined;
  sdk.connection.onStatus((s) => {
    // Made synchronously as the link drops: they wait in the queue.
    if (s.state === 'reconnecting' && offline.length === 0) {
      offline.push(sdk.topics.publish('chat', 'reconnect', 'A1'), sdk.topics.publish('chat', 'reconnect', 'A2'));
    }
    if (s.state === 'open' && offline.length > 0 && !online) online = sdk.topics.publish('chat', 'reconnect', 'B');
  });
  proxy.reset();
  await statusReached(sdk.connection, 'reconnecting');
  t.equal(offline.length, 2, 'both were made while offline');

  const seqs = (await Promise.all(offline)).map(seqOf);
  await statusReached(sdk.connection, 'open');
  t.ok(online, 'the listener published on open');
  const seqB = seqOf(await online!);
  t.ok(seqs[0]! < seqs[1]! && seqs[1]! < seqB, `offline A1, A2 (seq ${seqs}) were applied before B (seq ${seqB})`);
  await got.items.until(3);
  t.same(got.values(), ['A1', 'A2', 'B'], 'a subscriber sees them in the order they were made');
});
