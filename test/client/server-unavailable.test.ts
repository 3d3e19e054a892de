/** A `sub` the server refuses with SERVER_UNAVAILABLE while the link stays open (engine redis:
 * Redis unreachable for a moment) is asked again with backoff: no reconnect would come to send it
 * again, so the subscription would otherwise never be made (or, after a reconnect, stay silently
 * dead while the app takes it for active). So is one not answered in time (TIMEOUT_ERROR). */
import t from 'tap';
import { startServer, startServerOnProxiedRedis } from '../helpers/server.js';
import { sdkFor, itemCollector, WS } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait.js';
import { TopicSubscribe, type WebSocketLike } from '../../src/client/index.js';
import type { MemoryEngine } from '../../src/index.js';
import { decodeFrame, decodeFrames } from '../../src/protocol/index.js';

t.test('a sub refused SERVER_UNAVAILABLE on an open link is asked again once the server can serve it', async (t) => {
  const started = await startServerOnProxiedRedis(t);
  if (!started) return;
  const { server, redis } = started;
  // The server's replies, read off the real socket.
  const replies: Array<Record<string, unknown>> = [];
  const webSocketFactory = (url: string, protocols: string[]) => {
    const ws = new WS(url, protocols) as unknown as WebSocket;
    ws.addEventListener('message', (ev: { data: unknown }) => { replies.push(...decodeFrames(new Uint8Array(ev.data as ArrayBuffer))); });
    return ws as unknown as WebSocketLike;
  };
  const sdk = await sdkFor(t, server, { tokenId: 'subscriber', webSocket: undefined, webSocketFactory, reconnectBaseMs: 50, reconnectMaxMs: 200 });
  await sdk.connection.ready();
  // The server loses Redis (its link drops, new ones get nowhere); the SDK's WebSocket stays up.
  redis.blackhole();
  redis.reset();
  const got = itemCollector();
  const pending = sdk.topics.subscribe('chat', 'unavailable', { ...got.callbacks, timeoutMs: 10_000 });
  let statusChanges = 0;
  sdk.connection.onStatus(() => statusChanges++);
  // The server answers SERVER_UNAVAILABLE after its commandTimeoutMs; then Redis comes back.
  await waitFor('the sub refused SERVER_UNAVAILABLE', () => replies.some((f) => f['t'] === 'err' && (f['e'] as { code?: string })?.code === 'SERVER_UNAVAILABLE'));
  redis.heal();
  const sub = await pending;
  t.ok(sub instanceof TopicSubscribe.Subscription, `subscribed once Redis was back (${sub})`);
  t.equal(statusChanges, 0, 'on the same link: no reconnect was needed');
  const publisher = await sdkFor(t, server, { tokenId: 'publisher' });
  await publisher.topics.publish('chat', 'unavailable', 'live');
  await got.items.until(1);
  t.same(got.values(), ['live']);
});

t.test('a sub not answered in time is asked again after the backoff, not at once, and then made', async (t) => {
  // Memory engine on purpose: the fault injection holds its first subscribe past the client's timeout.
  const server = await startServer(t, { engine: 'memory' });
  const engine = server.broker['deps'].engine as MemoryEngine;
  const subscribe = engine.topics.subscribe.bind(engine.topics);
  let letGo: (() => void) | undefined;
  engine.topics.subscribe = (cache, topic, who) => {
    if (letGo) return subscribe(cache, topic, who);
    return new Promise((resolve, reject) => { letGo = () => { subscribe(cache, topic, who).then(resolve, reject); }; });
  };
  t.teardown(() => letGo?.());
  // The operations the SDK sends, read off its real socket as it sends them.
  const sent: string[] = [];
  const webSocketFactory = (url: string, protocols: string[]) => {
    const ws = new WS(url, protocols) as unknown as WebSocketLike;
    const send = ws.send.bind(ws);
    ws.send = (data) => { sent.push(String(decodeFrame(data as Uint8Array)['t'])); send(data); };
    return ws;
  };
  // A backoff far longer than the check below takes: only a `sub` sent at once is counted there.
  const sdk = await sdkFor(t, server, { webSocket: undefined, webSocketFactory, requestTimeoutMs: 500, reconnectBaseMs: 1000, reconnectMaxMs: 1000 });
  await sdk.connection.ready();
  const got = itemCollector();
  const pending = sdk.topics.subscribe('chat', 'slow', { ...got.callbacks, timeoutMs: 10_000 });
  // The first `sub` times out; the SDK ends whatever the server made of it (unsub) and, in the same
  // step, would have sent the next `sub` had it not waited.
  await waitFor('the unsub after the timed-out sub', () => sent.includes('unsub'));
  t.same(sent.filter((op) => op === 'sub' || op === 'unsub'), ['sub', 'unsub'], 'not asked again at once');
  letGo!();
  const sub = await pending;
  t.ok(sub instanceof TopicSubscribe.Subscription, `subscribed by the retry after the backoff (${sub})`);
  t.same(sent.filter((op) => op === 'sub'), ['sub', 'sub'], 'asked twice in all');
  const publisher = await sdkFor(t, server, { tokenId: 'publisher' });
  await publisher.topics.publish('chat', 'slow', 'live');
  await got.items.until(1);
  t.same(got.values(), ['live']);
});
