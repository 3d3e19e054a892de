/** A webhook endpoint whose receiver is down fills its queue: webhooks.queueSize events, or
 * webhooks.maxQueuedBytes of them (large items reach the byte bound first: 10,000 items of 64 KiB
 * were ~900 MB held for one endpoint). Every event past it is dead-lettered and counted
 * (tidings_webhook_dead_letters_total{reason="queue_full"}), but warned of at most once a minute
 * per endpoint, with how many were refused since: a line per event flooded the log for as long as
 * the receiver stayed down (a manual clock makes "a minute later" exact). */
import t, { type Test } from 'tap';
import { Writable } from 'node:stream';
import { createServer, defaultFeatures, generateSigningKey, ManualClock, PermissionScopes } from '../../src/index.js';
import { createLogger } from '../../src/core/logger.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { startServer } from '../helpers/server.js';

/** A receiver that answers nothing until `release`: the endpoint's first request stays in flight. */
async function heldReceiver(t: Test): Promise<{ receiver: HttpReceiver; release: () => void }> {
  const receiver = await HttpReceiver.start(t);
  let release!: () => void;
  const held = new Promise<void>((resolve) => { release = resolve; });
  t.teardown(() => release());
  receiver.respond = () => ({ status: 200, hold: held });
  return { receiver, release };
}

t.test('a full webhook queue is warned of once a minute, with a count, not once per event', async (t) => {
  const { receiver } = await heldReceiver(t);
  let written = '';
  const sink = new Writable({ write(chunk, _enc, done) { written += String(chunk); done(); } });
  const clock = new ManualClock(Date.now());
  const server = await createServer({
    config: {
      server: { port: 0, shutdownGraceMs: 200, metricsAccess: 'open' },
      auth: { signingKeys: [generateSigningKey()] },
      webhooks: {
        queueSize: 3, timeoutMs: 60_000,
        endpoints: [{ name: 'down', url: `${receiver.url}/hook`, secret: 'a-secret-of-enough-length', cache: 'app', topicPrefix: '', events: ['item.published'] }],
      },
    },
    clock,
    logger: createLogger({ level: 'warn', destination: sink }),
  }, defaultFeatures());
  t.teardown(() => server.close());
  const pub = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe('app', '*'), { tokenId: 'p' }));
  t.teardown(() => pub.close());
  const warnings = () => written.split('\n').filter((l) => l.includes('webhook queue full')).map((l) => JSON.parse(l) as { webhook: string; deadLettered: number });
  const deadLettered = async () => Number(/^tidings_webhook_dead_letters_total\{endpoint="app\/down",reason="queue_full"\} (\d+)$/m.exec(await (await fetch(`${server.httpUrl}/metrics`)).text())?.[1]);

  // One topic: one request held in flight, two more queued, then the queue (3) is full.
  for (let i = 0; i < 23; i++) await pub.ok({ t: 'pub', cache: 'app', topic: 'orders', value: `o${i}` });
  t.equal(await deadLettered(), 20, 'every refused event is counted');
  const reasons = [...(await (await fetch(`${server.httpUrl}/metrics`)).text()).matchAll(/^tidings_webhook_dead_letters_total\{endpoint="app\/down",reason="(\w+)"\}/gm)].map((m) => m[1]);
  t.same(reasons.sort(), ['attempts_exhausted', 'queue_full', 'rejected'], 'a webhook\'s reasons only (docs/operations.md): revoked and unregistered are Web Push\'s');
  t.same(warnings(), [{ ...warnings()[0], webhook: 'down', deadLettered: 1 }], 'one warning, at the first refused event');

  clock.advance(59_999);
  await pub.ok({ t: 'pub', cache: 'app', topic: 'orders', value: 'within the minute' });
  t.equal(warnings().length, 1, 'none more within the minute');
  clock.advance(1);
  for (let i = 0; i < 5; i++) await pub.ok({ t: 'pub', cache: 'app', topic: 'orders', value: `later ${i}` });
  t.equal(await deadLettered(), 26);
  t.same(warnings().map((w) => w.deadLettered), [1, 21], 'a minute later, one more, counting the events refused since the last one (19 + 1 + this one)');
});

t.test('an endpoint queues at most webhooks.maxQueuedBytes of events', async (t) => {
  const { receiver, release } = await heldReceiver(t);
  const server = await startServer(t, {
    config: {
      server: { metricsAccess: 'open' },
      webhooks: {
        queueSize: 10_000, maxQueuedBytes: 50_000, timeoutMs: 60_000,
        endpoints: [{ name: 'big', url: `${receiver.url}/hook`, secret: 'a-secret-of-enough-length', cache: 'app', topicPrefix: '', events: ['item.published'] }],
      },
    },
  });
  const pub = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe('app', '*'), { tokenId: 'p' }));
  t.teardown(() => pub.close());
  const metric = async (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(await (await fetch(`${server.httpUrl}/metrics`)).text())?.[1]);
  const queueFull = 'tidings_webhook_dead_letters_total\\{endpoint="app/big",reason="queue_full"\\}';
  const queued = 'tidings_webhook_queued\\{endpoint="app/big"\\}';

  // Each event is a little over 20,000 bytes of JSON: two fit in 50,000 (one in flight, one waiting).
  for (let i = 0; i < 10; i++) await pub.ok({ t: 'pub', cache: 'app', topic: 'big', value: String(i).repeat(20_000) });
  t.equal(await metric(queued), 2, 'two events held');
  t.equal(await metric(queueFull), 8, 'the other eight dead-lettered, though webhooks.queueSize has room');
  release();
  await receiver.untilEvents(2);
  await pub.ok({ t: 'pub', cache: 'app', topic: 'big', value: 'small, after the queue drained' });
  const values = (await receiver.untilEvents(3)).map((e) => String(e['item']['value']).slice(0, 5));
  t.same(values, ['00000', '11111', 'small'], 'the two held ones, then a new one: delivered bytes leave the bound');
  t.equal(await metric(queueFull), 8);
});
