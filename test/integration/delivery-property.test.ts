/** The delivery guarantee of topics, checked from the subscriber's side (docs/protocol.md "sub",
 * "Pushes on a subscription", "Recent-items window and topic lifetime"; docs/history.md): a
 * bounded model-based property test (fast-check) on three deployments — the memory engine, the
 * Redis engine on two nodes sharing one Redis, and two nodes on two Redis shards — over real
 * WebSockets (raw protocol).
 *
 * Random sequences publish (alone, in bursts that the Redis engine sends as one batch and that
 * overflow the window, or as pubAppend to a capped history), retract, subscribe subscribers on
 * random nodes (fresh, from their last position, from a stale position they saw, from a position
 * the topic never reached, or joining from the history list `withMeta`), disconnect them, run an
 * SDK subscriber (src/client) whose link drops (it reconnects and resumes by itself) or that comes
 * back on another node with `resumeFrom`, and move the clocks past topics.idleTopicMs so that
 * topics without subscribers are forgotten (the memory engine's sweep; Redis's TTL, done by
 * deleting the keys). After every operation each
 * subscriber's frames are checked against a model of what was acknowledged:
 * - every item or retract is the acknowledged one at its (page, seq), and comes right after the
 *   previous position: seq + 1 in the same page, else right after a `disc` that says where;
 * - a `disc` starts from the subscriber's position, moves forward, names the topic's current
 *   page, and skips nothing the window is certain to hold (the last GUARANTEED items);
 * - once settled, a subscribed subscriber stands at the topic's newest position (no silent gap at
 *   the end) and a `sub` reply names that position.
 * Not here: memory-vs-Redis answers (engine-parity.test.ts), slow consumers (slow-consumer.test.ts).
 * TIDINGS_DELIVERY_RUNS sets the number of sequences per deployment. */
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { ManualClock, PermissionScopes, type MemoryEngine, type TidingsServer } from '../../src/index.js';
import { TopicKeys } from '../../src/engine/redis/keys.js';
import { shardOf } from '../../src/engine/shards/rendezvous.js';
import { startServer } from '../helpers/server.js';
import { requireRedis, sharedRedisUrl, startRedis, uniquePrefix, deletePrefix } from '../helpers/redis.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { eventually } from '../helpers/wait.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { WS } from '../helpers/sdk.js';
import { connect, type TopicSubscription } from '../../src/client/index.js';

const RUNS = Number(process.env['TIDINGS_DELIVERY_RUNS'] ?? 30);
const START = 1_800_000_000_000;
/** Short enough that the clock moves past it many times within the tokens' day; Redis's real TTL
 * (the same ms) outlasts a run. */
const IDLE_MS = 60_000;
const WINDOW_ITEMS = 4;
const WINDOW_BYTES = 1800;
/** A window entry costs its frame + 320 B (topics/topic.ts); no frame here passes 280 B, so the
 * last 3 items of a page are always held (4 when they are small). */
const GUARANTEED = Math.min(WINDOW_ITEMS, Math.floor(WINDOW_BYTES / 600));
const config = { topics: { windowItems: WINDOW_ITEMS, windowBytes: WINDOW_BYTES, idleTopicMs: IDLE_MS } };
const scope = PermissionScopes.combine(PermissionScopes.allDataReadWrite(), PermissionScopes.topicPresence('*', '*'));
/** Two caches: on two shards they live on different Redis servers (checked below). */
const TOPICS = [{ cache: 'c', topic: 't' }, { cache: 'b', topic: 'u' }] as const;
const SUBSCRIBERS = 3;

interface Position { page: number; seq: number }

interface Deployment {
  name: string;
  nodes: TidingsServer[];
  clocks: ManualClock[];
  publishers: RawClient[];
  /** A relay to each node, for the SDK subscriber: its reset() drops the SDK's link. */
  proxies: TcpProxy[];
  /** Forgets a topic idle past idleTopicMs, as the engine would. */
  forget(cache: string, topic: string): Promise<void>;
}

async function deployment(tt: Test, name: 'memory' | 'redis, 2 nodes' | 'redis, 2 shards'): Promise<Deployment> {
  const clocks = name === 'memory' ? [new ManualClock(START)] : [new ManualClock(START), new ManualClock(START)];
  let nodes: TidingsServer[];
  let forget: Deployment['forget'];
  if (name === 'memory') {
    const server = await startServer(tt, { engine: 'memory', clock: clocks[0]!, config });
    nodes = [server];
    forget = async () => { (server.broker['deps'].engine as MemoryEngine).topics.registry.sweep(); };
  } else {
    const prefix = uniquePrefix('delivery');
    const urls = name === 'redis, 2 nodes' ? [await sharedRedisUrl()] : (await Promise.all([startRedis(tt), startRedis(tt)])).map((r) => r.url);
    tt.teardown(() => deletePrefix(urls[0]!, prefix));
    const nodeConfig = urls.length > 1 ? { ...config, redis: { shards: urls } } : config;
    nodes = [];
    for (const clock of clocks) nodes.push(await startServer(tt, { engine: 'redis', clock, redisUrl: urls[0]!, redisKeyPrefix: prefix, config: nodeConfig }));
    const redises = urls.map((url) => new Redis(url));
    tt.teardown(() => { for (const r of redises) r.disconnect(); });
    // Redis forgets an idle topic by its keys' TTL: the same, now.
    forget = async (cache, topic) => {
      const keys = new TopicKeys(prefix, cache, topic);
      await redises[shardOf(cache, redises.length)]!.del(keys.topic, keys.recent);
    };
  }
  const publishers: RawClient[] = [];
  for (const node of nodes) {
    const c = await RawClient.open(node, await tokenFor(node, scope, { tokenId: 'p', expiresInSec: 24 * 3600 }));
    tt.teardown(() => c.close());
    publishers.push(c);
  }
  const proxies: TcpProxy[] = [];
  for (const n of nodes) {
    const proxy = await startTcpProxy(Number(new URL(n.httpUrl).port));
    tt.teardown(() => proxy.close());
    proxies.push(proxy);
  }
  return { name, nodes, clocks, publishers, proxies, forget };
}

// -- operations -----------------------------------------------------------------------------------

const node = fc.nat(1);
const topicIndex = fc.nat(TOPICS.length - 1);
const value = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('a', 'bb', 'ccc') }, { weight: 1, arbitrary: fc.constant('L'.repeat(200)) });
const from = fc.constantFrom('last', 'last', 'last', 'none', 'stale', 'future', 'history');
const op = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('pub' as const), topic: topicIndex, node, v: value, append: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('burst' as const), topic: topicIndex, node, n: fc.integer({ min: 2, max: WINDOW_ITEMS + 2 }), v: value }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('retract' as const), topic: topicIndex, node, target: fc.nat(30) }) },
  // Publishes on every node at once (with Redis: batches of two nodes interleaved by Redis).
  { weight: 1, arbitrary: fc.record({ op: fc.constant('race' as const), topic: topicIndex, n: fc.integer({ min: 2, max: 6 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('sub' as const), who: fc.nat(SUBSCRIBERS - 1), topic: topicIndex, node, from, stale: fc.nat(30), batch: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('leave' as const), who: fc.nat(SUBSCRIBERS - 1), close: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('idle' as const) }) },
  // The SDK subscriber: subscribes (resuming from its saved position on a new connection), its
  // link drops (it reconnects and resumes by itself), it unsubscribes and closes, or it publishes
  // and, before their items reach it, a second local subscriber asks for presence (the SDK
  // resubscribes on the open connection from the position it had then: a replay overlapping
  // live delivery).
  { weight: 3, arbitrary: fc.record({ op: fc.constant('sdk' as const), action: fc.constantFrom('sub', 'sub', 'drop', 'drop', 'leave', 'upgrade'), topic: topicIndex, node, n: fc.integer({ min: 1, max: WINDOW_ITEMS + 2 }) }) },
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

// -- the model ------------------------------------------------------------------------------------

/** What was acknowledged on one topic: its current page (undefined: not live) and every frame by position. */
interface TopicModel {
  cache: string;
  topic: string;
  page: number | undefined;
  seq: number;
  /** Every page the topic had, in order. */
  pages: number[];
  frames: Map<string, { kind: 'item'; value: string } | { kind: 'retract'; target: Position }>;
  /** Acknowledged positions, for retract targets. */
  acked: Position[];
}

interface Subscriber {
  client: RawClient | undefined;
  node: number;
  topic: number | undefined;
  subscribed: boolean;
  /** Where it stands: the last item, retract or disc it got (or where it subscribed). */
  at: Position | undefined;
  /** The resume position asked from the future (a disc may then go back). */
  future: boolean;
  /** Positions it got, per topic: stale resumes pick one. */
  seen: Map<number, Position[]>;
}

type SdkEvent =
  | { t: 'item'; page: number; seq: number; value: string }
  | { t: 'retract'; target: Position }
  | { t: 'disc'; lastSeq: number; newSeq: number; page: number };

/** A subscriber through the SDK (src/client), on one node through a relay that can drop its link. */
interface SdkSubscriber {
  sdk: ReturnType<typeof connect> | undefined;
  node: number;
  topic: number | undefined;
  subscription: TopicSubscription | undefined;
  /** The second local subscriber (presence: true), if it was added. */
  watcher: TopicSubscription | undefined;
  events: SdkEvent[];
  at: Position | undefined;
}

const pos = (p: Position) => `${p.page}/${p.seq}`;

class Run {
  readonly topics: TopicModel[];
  readonly subs: Subscriber[] = [];
  readonly sdk: SdkSubscriber = { sdk: undefined, node: 0, topic: undefined, subscription: undefined, watcher: undefined, events: [], at: undefined };
  readonly log: string[] = [];

  constructor(readonly d: Deployment, readonly tag: string) {
    this.topics = TOPICS.map(({ cache, topic }) => ({ cache, topic: tag + topic, page: undefined, seq: 0, pages: [], frames: new Map(), acked: [] }));
    for (let i = 0; i < SUBSCRIBERS; i++) this.subs.push({ client: undefined, node: 0, topic: undefined, subscribed: false, at: undefined, future: false, seen: new Map() });
  }

  fail(message: string): never {
    throw new Error(`${this.d.name}: ${message}\nafter:\n  ${this.log.join('\n  ')}`);
  }

  /** A stamp (publish or retract reply) at `r`: the topic's next seq, or seq 1 of a new page. */
  stamped(m: TopicModel, r: Frame, frame: { kind: 'item'; value: string } | { kind: 'retract'; target: Position }): void {
    const at = { page: Number(r['page']), seq: Number(r['seq']) };
    if (m.page === undefined) {
      if (at.seq !== 1 || at.page <= (m.pages.at(-1) ?? 0)) this.fail(`the first stamp of a new page was ${pos(at)} (pages so far ${m.pages.join(',')})`);
      m.page = at.page;
      m.pages.push(at.page);
      m.seq = 0;
      checked.pages++;
    }
    if (at.page !== m.page || at.seq !== m.seq + 1) this.fail(`stamped ${pos(at)} where ${m.page}/${m.seq + 1} was next`);
    m.seq = at.seq;
    m.frames.set(pos(at), frame);
    m.acked.push(at);
  }

  /** A `sub` reply: the topic's newest position (the sub creates a topic not live). */
  subscribedAt(m: TopicModel, r: Frame): void {
    const at = { page: Number(r['page']), seq: Number(r['seq']) };
    if (m.page === undefined) {
      if (at.seq !== 0 || at.page <= (m.pages.at(-1) ?? 0)) this.fail(`a sub on a topic not live answered ${pos(at)}`);
      m.page = at.page;
      m.pages.push(at.page);
      m.seq = 0;
    }
    if (at.page !== m.page || at.seq !== m.seq) this.fail(`sub answered ${pos(at)}; the topic stands at ${m.page}/${m.seq}`);
  }

  subscribersOf(topic: number): number {
    return this.subs.filter((s) => s.subscribed && s.topic === topic).length + (this.sdk.subscription && this.sdk.topic === topic ? 1 : 0);
  }

  /** Subscribers the node should count on the topic. */
  subscribersOn(node: number, topic: number): number {
    return this.subs.filter((x) => x.subscribed && x.node === node && x.topic === topic).length
      + (this.sdk.subscription && this.sdk.node === node && this.sdk.topic === topic ? 1 : 0);
  }

  /** Checks what the SDK subscriber delivered since the last look, as check() does for frames. */
  checkSdk(): void {
    const s = this.sdk;
    if (s.topic === undefined || !s.at) return;
    const m = this.topics[s.topic]!;
    for (const e of s.events.splice(0)) {
      const here: Position = s.at;
      if (e.t === 'disc') {
        const say = `the SDK subscriber at ${pos(here)} reported a discontinuity ${JSON.stringify(e)} (topic at ${m.page}/${m.seq})`;
        if (e.lastSeq !== here.seq) this.fail(`${say}: lastSequenceNumber is not its position`);
        if (e.page !== m.page) this.fail(`${say}: not the topic's current page`);
        if (e.page === here.page && e.newSeq <= here.seq + 1) this.fail(`${say}: it skips nothing`);
        const firstSkipped = e.page === here.page ? here.seq + 1 : 1;
        if (e.newSeq - 1 >= firstSkipped && e.newSeq - 1 > m.seq - GUARANTEED && e.newSeq - 1 >= 1) this.fail(`${say}: skips seq ${e.newSeq - 1}, which the window holds`);
        s.at = { page: e.page, seq: e.newSeq - 1 };
        checked.discs++;
        continue;
      }
      // A retraction carries no position of its own: it takes the next one.
      const at = e.t === 'item' ? { page: e.page, seq: e.seq } : { page: here.page, seq: here.seq + 1 };
      const say = `the SDK subscriber at ${pos(here)} delivered ${e.t} ${pos(at)}`;
      if (at.page !== here.page || at.seq !== here.seq + 1) this.fail(`${say}: not the next position (a gap, a duplicate or a page change without discontinuity)`);
      const expected = m.frames.get(pos(at));
      if (!expected || expected.kind !== e.t) this.fail(`${say}: the topic has ${expected ? `a ${expected.kind}` : 'nothing acknowledged'} there`);
      if (e.t === 'item' && expected.kind === 'item' && e.value !== expected.value) this.fail(`${say}: value ${e.value}, acknowledged ${expected.value}`);
      if (e.t === 'retract' && expected.kind === 'retract' && pos(e.target) !== pos(expected.target)) this.fail(`${say}: target ${pos(e.target)}`);
      s.at = at;
      checked.sdk++;
    }
  }

  /** The node holds the SDK's current connection, subscribed: its link is back and it resubscribed. */
  sdkAttached(): boolean {
    const s = this.sdk;
    const status = s.sdk?.connection.status;
    if (!s.subscription || status?.state !== 'open') return false;
    const m = this.topics[s.topic!]!;
    const session = this.d.nodes[s.node]!.broker.sessions.get(status.connectionId);
    return [...(session?.subscriptions.values() ?? [])].some((r) => r.engaged && r.cache === m.cache && r.topic === m.topic);
  }

  /** Checks the frames a subscriber got since the last look. */
  check(s: Subscriber, who: number): void {
    if (!s.client || s.topic === undefined) return;
    const m = this.topics[s.topic]!;
    const frames = s.client.frames.splice(0).filter((f) => ['item', 'retract', 'disc'].includes(f['t']));
    for (const f of frames) {
      const here = s.at!;
      if (f['cache'] !== m.cache || f['topic'] !== m.topic) this.fail(`subscriber ${who} got a frame of another topic: ${JSON.stringify(f)}`);
      const at = { page: Number(f['page']), seq: Number(f['seq']) };
      if (f['t'] === 'disc') {
        const newSeq = Number(f['newSeq']);
        const say = `subscriber ${who} at ${pos(here)} got ${JSON.stringify({ lastSeq: f['lastSeq'], newSeq, page: at.page })} (topic at ${m.page}/${m.seq})`;
        if (f['lastSeq'] !== here.seq) this.fail(`${say}: lastSeq is not its position`);
        if (at.page !== m.page) this.fail(`${say}: not the topic's current page`);
        if (at.page < here.page) this.fail(`${say}: back to an older page`);
        if (at.page === here.page && !s.future && newSeq <= here.seq + 1) this.fail(`${say}: a disc that skips nothing`);
        // Within the current page, the last GUARANTEED items are certainly in the window.
        const firstSkipped = at.page === here.page ? here.seq + 1 : 1;
        if (!s.future && newSeq - 1 >= firstSkipped && newSeq - 1 > m.seq - GUARANTEED && newSeq - 1 >= 1) {
          this.fail(`${say}: skips seq ${newSeq - 1}, which the window holds (the last ${GUARANTEED} are always held)`);
        }
        s.at = { page: at.page, seq: newSeq - 1 };
        s.future = false;
        checked.discs++;
        continue;
      }
      const say = `subscriber ${who} at ${pos(here)} got ${f['t']} ${pos(at)}`;
      if (at.page !== here.page || at.seq !== here.seq + 1) this.fail(`${say}: not the next position (a gap, a duplicate or a page change without disc)`);
      const expected = m.frames.get(pos(at));
      if (!expected) this.fail(`${say}: nothing was acknowledged there`);
      if (expected.kind !== f['t']) this.fail(`${say}: expected a ${expected.kind}`);
      if (expected.kind === 'item' && f['value'] !== expected.value) this.fail(`${say}: value ${JSON.stringify(f['value'])}, acknowledged ${JSON.stringify(expected.value)}`);
      if (expected.kind === 'retract' && pos(f['target']) !== pos(expected.target)) this.fail(`${say}: target ${JSON.stringify(f['target'])}`);
      s.at = at;
      s.future = false;
      checked[expected.kind === 'item' ? 'items' : 'retracts']++;
      const seen = s.seen.get(s.topic) ?? [];
      seen.push(at);
      s.seen.set(s.topic, seen);
    }
  }

  /** Waits until every subscriber has what was acknowledged, checking each frame on the way. */
  async settle(): Promise<void> {
    const caughtUp = (s: Subscriber) => {
      const m = this.topics[s.topic!]!;
      return s.at?.page === m.page && s.at?.seq === m.seq;
    };
    const look = async () => {
      for (const n of this.d.nodes) await n.engine.topics.settle?.();
      for (const [i, s] of this.subs.entries()) {
        if (!s.subscribed) continue;
        await s.client!.ok({ t: 'ping' });
        this.check(s, i);
      }
      this.checkSdk();
      const sdk = this.sdk;
      const sdkCaughtUp = !sdk.subscription || (this.sdkAttached() && sdk.at !== undefined && caughtUp({ ...sdk, subscribed: true } as unknown as Subscriber)
        && pos(sdk.subscription.lastPosition()!) === pos(sdk.at));
      return sdkCaughtUp && this.subs.every((s) => !s.subscribed || caughtUp(s));
    };
    if (await eventually(look, 3000)) return;
    const behind = this.subs.map((s, i) => (s.subscribed && !caughtUp(s) ? `subscriber ${i} at ${s.at && pos(s.at)} on node ${s.node}, topic at ${this.topics[s.topic!]!.page}/${this.topics[s.topic!]!.seq}` : '')).filter(Boolean);
    if (this.sdk.subscription) behind.push(`the SDK subscriber at ${this.sdk.at && pos(this.sdk.at)} (its lastPosition ${JSON.stringify(this.sdk.subscription.lastPosition())}, attached: ${this.sdkAttached()}) on node ${this.sdk.node}, topic at ${this.topics[this.sdk.topic!]!.page}/${this.topics[this.sdk.topic!]!.seq}`);
    this.fail(`not caught up (a silent gap at the end): ${behind.join('; ')}`);
  }

  async apply(o: Op): Promise<void> {
    const d = this.d;
    switch (o.op) {
      case 'pub': {
        const m = this.topics[o.topic]!;
        const n = o.node % d.nodes.length;
        const v = `${o.v}${m.acked.length}`;
        const frame = o.append
          ? { t: 'pubAppend', cache: m.cache, topic: m.topic, list: m.topic, value: v, truncateFrontToSize: 3 }
          : { t: 'pub', cache: m.cache, topic: m.topic, value: v };
        this.stamped(m, await d.publishers[n]!.ok(frame), { kind: 'item', value: v });
        break;
      }
      case 'burst': {
        // In one event-loop iteration of the server: the Redis engine sends them as one batch.
        const m = this.topics[o.topic]!;
        const c = d.publishers[o.node % d.nodes.length]!;
        const values = Array.from({ length: o.n }, (_, i) => `${o.v}${m.acked.length}.${i}`);
        const replies = await Promise.all(values.map((v) => c.ok({ t: 'pub', cache: m.cache, topic: m.topic, value: v })));
        for (const [i, r] of replies.entries()) this.stamped(m, r, { kind: 'item', value: values[i]! });
        break;
      }
      case 'race': {
        const m = this.topics[o.topic]!;
        const values = Array.from({ length: o.n }, (_, i) => `r${m.acked.length}.${i}`);
        const replies = await Promise.all(values.map((v, i) => d.publishers[i % d.nodes.length]!.ok({ t: 'pub', cache: m.cache, topic: m.topic, value: v })));
        // Acknowledged in any order across nodes: the model takes them in the order of their seqs.
        const acked = replies.map((r, i) => ({ r, v: values[i]! })).sort((a, b) => Number(a.r['seq']) - Number(b.r['seq']));
        for (const { r, v } of acked) this.stamped(m, r, { kind: 'item', value: v });
        break;
      }
      case 'retract': {
        const m = this.topics[o.topic]!;
        if (m.acked.length === 0) return;
        const target = m.acked[o.target % m.acked.length]!;
        const r = await d.publishers[o.node % d.nodes.length]!.ok({ t: 'retract', cache: m.cache, topic: m.topic, target, reason: 'r' });
        this.stamped(m, r, { kind: 'retract', target });
        break;
      }
      case 'sub': {
        const s = this.subs[o.who]!;
        if (s.subscribed) return;
        const topic = s.topic ?? o.topic;
        const m = this.topics[topic]!;
        const n = o.node % d.nodes.length;
        if (s.client && s.node !== n) { s.client.close(); s.client = undefined; }
        // With batches or without (docs/protocol.md "Batches": the same frames, in the same order).
        s.client ??= await RawClient.open(d.nodes[n]!, await tokenFor(d.nodes[n]!, scope, { tokenId: `s${o.who}`, expiresInSec: 24 * 3600 }), { batch: o.batch });
        s.node = n;
        s.topic = topic;
        let after: Position | undefined;
        s.future = false;
        const seen = s.seen.get(topic) ?? [];
        switch (o.from) {
          case 'last': after = s.at ?? undefined; break;
          case 'stale': after = seen.length > 0 ? seen[o.stale % seen.length] : s.at; break;
          case 'future': if (s.at) { after = { page: s.at.page, seq: s.at.seq + 5 }; s.future = after.page === m.page && after.seq > m.seq; } break;
          case 'history': {
            // docs/history.md: fetch withMeta, then subscribe after the last element (or 0/0).
            const h = await s.client.ok({ t: 'listFetch', cache: m.cache, list: m.topic, withMeta: true });
            const last = h['hit'] ? (h['items'] as Frame[]).at(-1) : undefined;
            after = last ? { page: last['page'], seq: last['seq'] } : { page: 0, seq: 0 };
            break;
          }
          case 'none': after = undefined; break;
        }
        const r = await s.client.ok({ t: 'sub', cache: m.cache, topic: m.topic, ...(after ? { after } : {}) });
        this.subscribedAt(m, r);
        s.subscribed = true;
        checked.subs++;
        s.at = after ?? { page: Number(r['page']), seq: Number(r['seq']) };
        this.log.push(`  (subscriber ${o.who} on node ${n} after ${after ? pos(after) : '-'})`);
        break;
      }
      case 'leave': {
        const s = this.subs[o.who]!;
        if (!s.client) return;
        const n = s.node;
        const m = s.topic === undefined ? undefined : this.topics[s.topic];
        if (o.close) {
          s.client.close();
          await s.client.waitClosed();
          s.client = undefined;
        } else if (s.subscribed) {
          await s.client.ok({ t: 'unsub', cache: m!.cache, topic: m!.topic });
        }
        if (!s.subscribed) return;
        s.subscribed = false;
        // The node ended the subscription (a close reaches it after the client saw it).
        const left = this.subscribersOn(n, s.topic!);
        const activity = () => [...d.nodes[n]!.engine.topics.activity()].find((a) => a.cache === m!.cache && a.topic === m!.topic)?.subscribers ?? 0;
        if (!await eventually(() => activity() === left, 3000)) this.fail(`node ${n} still counts ${activity()} subscribers of ${m!.topic}, not ${left}`);
        break;
      }
      case 'sdk': {
        const s = this.sdk;
        if (o.action === 'sub') {
          if (s.subscription) return;
          const topic = s.topic ?? o.topic;
          const m = this.topics[topic]!;
          const n = o.node % d.nodes.length;
          const token = await tokenFor(d.nodes[n]!, scope, { tokenId: 'sdk', expiresInSec: 24 * 3600 });
          s.sdk = connect({ url: `http://127.0.0.1:${d.proxies[n]!.port}`, webSocket: WS, token, reconnectBaseMs: 5, reconnectMaxMs: 20 });
          s.node = n;
          s.topic = topic;
          const resumeFrom = s.at;
          const r = await s.sdk.topics.subscribe(m.cache, m.topic, {
            ...(resumeFrom ? { resumeFrom } : {}),
            onItem: (i) => s.events.push({ t: 'item', page: i.sequencePage(), seq: i.sequenceNumber(), value: i.valueString() }),
            onRetraction: (r) => s.events.push({ t: 'retract', target: r.target }),
            onDiscontinuity: (x) => s.events.push({ t: 'disc', lastSeq: x.lastSequenceNumber(), newSeq: x.newSequenceNumber(), page: x.newSequencePage() }),
          });
          if (r.type !== 'Subscription') this.fail(`the SDK's subscribe failed: ${String(r)}`);
          s.subscription = r;
          if (!resumeFrom) {
            // Nothing is published while it subscribes: its position is the reply's.
            const at = r.lastPosition()!;
            this.subscribedAt(m, at as unknown as Frame);
            s.at = at;
          } else if (m.page === undefined) {
            // It created the topic (the reply, which the SDK keeps to itself, named the new page).
            this.subscribedAt(m, d.nodes[n]!.engine.topics.position(m.cache, m.topic) as unknown as Frame);
          }
          this.log.push(`  (SDK subscriber on node ${n} from ${resumeFrom ? pos(resumeFrom) : '-'})`);
          checked.subs++;
        } else if (o.action === 'upgrade') {
          if (!s.subscription || s.watcher) return;
          const m = this.topics[s.topic!]!;
          const values = Array.from({ length: o.n }, (_, i) => `u${m.acked.length}.${i}`);
          const published = values.map((v) => s.sdk!.topics.publish(m.cache, m.topic, v));
          const watcher = s.sdk!.topics.subscribe(m.cache, m.topic, { presence: true });
          const replies = await Promise.all(published);
          const acked = replies.map((r, i) => ({ r, v: values[i]! }));
          if (acked.some(({ r }) => r.type !== 'Success')) this.fail(`an SDK publish failed: ${acked.map(({ r }) => String(r)).join(', ')}`);
          acked.sort((a, b) => (a.r as { seq: number }).seq - (b.r as { seq: number }).seq);
          for (const { r, v } of acked) this.stamped(m, r as unknown as Frame, { kind: 'item', value: v });
          const w = await watcher;
          if (w.type !== 'Subscription') this.fail(`the presence subscribe failed: ${String(w)}`);
          s.watcher = w;
        } else if (o.action === 'drop') {
          if (!s.subscription) return;
          const before = s.sdk!.connection.status;
          d.proxies[s.node]!.reset();
          // Back when the node holds its new connection, subscribed again.
          const old = before.state === 'open' ? before.connectionId : undefined;
          const back = () => this.sdkAttached() && (s.sdk!.connection.status as { connectionId?: string }).connectionId !== old;
          if (!await eventually(back, 3000)) this.fail(`the SDK did not reconnect and resubscribe (status ${JSON.stringify(s.sdk!.connection.status)})`);
        } else {
          if (!s.subscription) return;
          this.checkSdk();
          s.subscription.unsubscribe();
          s.watcher?.unsubscribe();
          s.subscription = undefined;
          s.watcher = undefined;
          s.sdk!.close();
          s.sdk = undefined;
          const m = this.topics[s.topic!]!;
          const n = s.node;
          const left = this.subscribersOn(n, s.topic!);
          const activity = () => [...d.nodes[n]!.engine.topics.activity()].find((a) => a.cache === m.cache && a.topic === m.topic)?.subscribers ?? 0;
          if (!await eventually(() => activity() === left, 3000)) this.fail(`node ${n} still counts ${activity()} subscribers of ${m.topic}, not ${left}`);
        }
        break;
      }
      case 'idle': {
        // Past topics.idleTopicMs: every topic without a subscriber is forgotten; its next use starts a new page.
        for (const c of d.clocks) c.advance(IDLE_MS + 1);
        for (const [i, m] of this.topics.entries()) {
          if (this.subscribersOf(i) > 0 || m.page === undefined) continue;
          await d.forget(m.cache, m.topic);
          m.page = undefined;
          m.seq = 0;
        }
        break;
      }
    }
  }

  async close(): Promise<void> {
    this.sdk.sdk?.close();
    for (const s of this.subs) {
      s.client?.close();
      if (s.client) await s.client.waitClosed().catch(() => {});
    }
  }
}

let runs = 0;
/** What the runs checked, so that a pass says something. */
const checked = { items: 0, retracts: 0, discs: 0, subs: 0, pages: 0, sdk: 0 };

/** Runs `ops` on `d`; the first breach of the contract, if any. */
async function runOps(d: Deployment, ops: Op[]): Promise<string | undefined> {
  const run = new Run(d, `r${++runs}`);
  try {
    for (const o of ops) {
      run.log.push(JSON.stringify(o));
      await run.apply(o);
      await run.settle();
    }
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await run.close();
  }
}

t.test('two caches on two different shards', async (t) => {
  t.not(shardOf(TOPICS[0].cache, 2), shardOf(TOPICS[1].cache, 2));
});

for (const name of ['memory', 'redis, 2 nodes', 'redis, 2 shards'] as const) {
  t.test(`delivery guarantee [${name}]`, async (t) => {
    if (name !== 'memory' && !requireRedis(t)) return;
    const d = await deployment(t, name);
    const out = await fc.check(fc.asyncProperty(fc.array(op, { minLength: 3, maxLength: 25 }), (ops) => runOps(d, ops).then((f) => f === undefined)), { numRuns: RUNS });
    if (!out.failed) { t.pass(`${RUNS} random sequences: ${JSON.stringify(checked)}`); return; }
    const [ops] = out.counterexample!;
    t.fail(`shrunk to ${ops.length} operations (seed ${out.seed}, path ${out.counterexamplePath}): ${await runOps(d, ops) ?? 'passed when run again'}`);
  });
}
