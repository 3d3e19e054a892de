/** A webhook request's body stays within webhooks.maxBatchBytes (default 1 MiB), so a receiver
 * whose body limit is that size never answers 413 (final: the batch would be lost): a batch is cut
 * before the event that would pass the limit, and every event still arrives exactly once, in order.
 * One event bigger than the limit goes alone. */
import t, { type Test } from 'tap';
import { eventually } from '../helpers/wait.js';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { DEFAULTS, PermissionScopes, type TidingsServer } from '../../src/index.js';

const CACHE = 'app';
const writer = PermissionScopes.topicPublishSubscribe(CACHE, '*');

async function queued(server: TidingsServer): Promise<number> {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  return Number(/^tidings_webhook_queued\{endpoint="app\/hook"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

/** Publishes `values` to one topic while the receiver holds the first request, so the rest queue up
 * behind it and go out in as few batches as the limits allow. The receiver refuses (413) a body of
 * several events over `limit`, as a receiver with that body limit would. */
async function deliver(t: Test, maxBatchBytes: number | undefined, values: string[]) {
  // A receiver with a 1 MiB body limit (the documented default of webhooks.maxBatchBytes).
  const limit = maxBatchBytes ?? 1024 * 1024;
  const server = await startServer(t, {
    config: {
      server: { metricsAccess: 'open' },
      webhooks: { allowPrivateUrls: true,
        timeoutMs: 30_000, maxAttempts: 2, backoffInitialMs: 20, backoffMaxMs: 40,
        ...(maxBatchBytes === undefined ? {} : { maxBatchBytes }),
        endpoints: [],
      },
    },
  });
  const receiver = await HttpReceiver.start(t);
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  /** The status given to each request, by arrival. */
  const statuses: number[] = [];
  receiver.respond = (r, index) => {
    const events = (JSON.parse(r.text) as { events: unknown[] }).events.length;
    statuses[index] = r.body.length > limit && events > 1 ? 413 : 200;
    return index === 0 ? { status: statuses[index]!, hold: held } : { status: statuses[index]! };
  };
  const admin = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const put = await fetch(`${server.httpUrl}/v1/webhooks/${CACHE}/hook`, {
    method: 'PUT', headers: { authorization: `Bearer ${admin}` },
    body: JSON.stringify({ url: `${receiver.url}/hook`, topicPrefix: '', events: ['item.published'] }),
  });
  t.equal(put.status, 200);
  const pub = await RawClient.open(server, await tokenFor(server, writer, { tokenId: 'p' }));
  t.teardown(() => pub.close());
  for (const value of values) await pub.ok({ t: 'pub', cache: CACHE, topic: 'big', value });
  // Every event is queued (the first in flight, held) before the receiver lets the first one go.
  await eventually(async () => await queued(server) >= values.length);
  t.equal(await queued(server), values.length, 'all events queued behind the held request');
  release();
  await eventually(async () => receiver.answered >= receiver.received.length && await queued(server) === 0, 20_000);
  return { receiver, limit, statuses };
}

function check(t: Test, { receiver, limit, statuses }: { receiver: HttpReceiver; limit: number; statuses: number[] }, values: string[]) {
  const bodies = receiver.received.map((r) => ({ bytes: r.body.length, events: (JSON.parse(r.text) as { events: unknown[] }).events.length }));
  t.comment(`bodies (bytes x events): ${bodies.map((b) => `${b.bytes}x${b.events}`).join(' ')}`);
  t.same(bodies.filter((b) => b.bytes > limit && b.events > 1), [], `no body of several events is over ${limit} bytes`);
  t.ok(bodies.some((b) => b.events > 1), 'events that queued up still go out batched');
  t.same(statuses.filter((s) => s !== 200), [], 'the receiver accepted every request');
  // Only what the receiver accepted counts as arrived (a 413 is final: those events are lost).
  const events = receiver.received.filter((_, i) => statuses[i] === 200)
    .flatMap((r) => (JSON.parse(r.text) as { events: Array<Record<string, any>> }).events);
  t.same(events.map((e) => e['item']['seq']), values.map((_, i) => i + 1), 'every event arrived exactly once, in order');
  t.same(events.map((e) => e['item']['value']), values);
}

t.test('with the default limit, large items queued behind a request go out in bodies of at most 1 MiB', async (t) => {
  // 40 items of 60,000 bytes: one batch of the 39 waiting would be ~2.3 MB.
  const values = Array.from({ length: 40 }, (_, i) => `${i}:`.padEnd(60_000, 'x'));
  const delivered = await deliver(t, undefined, values);
  t.equal(DEFAULTS.webhooks.maxBatchBytes, delivered.limit, 'the default is 1 MiB');
  check(t, delivered, values);
});

t.test('an event bigger than webhooks.maxBatchBytes goes alone', async (t) => {
  const limit = 16_384;
  // Two-byte characters: the limit counts UTF-8 bytes, not characters.
  const values = ['first', ...Array.from({ length: 6 }, (_, i) => `${i}:`.padEnd(2500, 'é')), 'z'.repeat(30_000), 'after-1', 'after-2'];
  const delivered = await deliver(t, limit, values);
  check(t, delivered, values);
  const { receiver } = delivered;
  const alone = receiver.received.find((r) => r.body.length > limit);
  t.ok(alone, 'the oversize event was sent');
  t.equal((JSON.parse(alone!.text) as { events: unknown[] }).events.length, 1, 'by itself');
});
