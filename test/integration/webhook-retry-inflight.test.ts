/** Retries take a slot like first attempts, and a replaced endpoint's requests end with it: a
 * struggling receiver gets at most webhooks.maxInFlight requests at once (docs/webhooks.md), not
 * one per queued topic. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { waitFor } from '../helpers/wait.js';
import { PermissionScopes, type TidingsServer } from '../../src/index.js';

const CACHE = 'app';

async function putHook(server: TidingsServer, cache: string, url: string): Promise<number> {
  const admin = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const put = await fetch(`${server.httpUrl}/v1/webhooks/${cache}/hook`, {
    method: 'PUT', headers: { authorization: `Bearer ${admin}` },
    body: JSON.stringify({ url, topicPrefix: '', events: ['item.published'] }),
  });
  await put.arrayBuffer();
  return put.status;
}

// Longer than any wait here: a request held by the receiver ends only if the server ends it.
const server = await startServer(t, {
  config: { webhooks: { allowPrivateUrls: true, timeoutMs: 60_000, maxAttempts: 3, backoffInitialMs: 20, backoffMaxMs: 40, maxInFlight: 2, endpoints: [] } },
});

t.test('retries respect webhooks.maxInFlight', async (t) => {
  const receiver = await HttpReceiver.start(t);
  const seenTopics = new Set<string>();
  let maxConcurrent = 0;
  receiver.respond = (r, index) => {
    maxConcurrent = Math.max(maxConcurrent, index + 1 - receiver.answered);
    const topic = (JSON.parse(r.text) as { events: Array<{ topic: string }> }).events[0]!.topic;
    if (!seenTopics.has(topic)) { seenTopics.add(topic); return { status: 503 }; } // first attempt fails at once
    return { status: 200, delayMs: 300 }; // the retry is slow
  };
  t.equal(await putHook(server, CACHE, `${receiver.url}/hook`), 200);
  const pub = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe(CACHE, '*'), { tokenId: 'p' }));
  for (let i = 0; i < 10; i++) await pub.ok({ t: 'pub', cache: CACHE, topic: `topic-${i}`, value: `v${i}` });
  await receiver.untilEvents(20, 10_000);
  t.ok(maxConcurrent <= 2, `at most maxInFlight (2) requests at once; saw ${maxConcurrent}`);
  pub.close();
});

t.test('replacing an endpoint ends its requests in flight: the receiver never has more than maxInFlight open', async (t) => {
  const cache = 'swap';
  const receiver = await HttpReceiver.start(t);
  let release!: () => void;
  const held = new Promise<void>((resolve) => { release = resolve; });
  t.teardown(() => release());
  receiver.respond = () => ({ status: 200, hold: held });
  const open = () => receiver.received.length - receiver.answered - receiver.abandoned;
  t.equal(await putHook(server, cache, `${receiver.url}/old`), 200);
  const pub = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe(cache, '*'), { tokenId: 'p' }));
  t.teardown(() => pub.close());
  for (const topic of ['a', 'b']) await pub.ok({ t: 'pub', cache, topic, value: topic });
  await receiver.until(2);
  t.equal(open(), 2, 'the old endpoint fills its maxInFlight (2)');
  t.equal(await putHook(server, cache, `${receiver.url}/new`), 200, 'replaced');
  for (const topic of ['c', 'd']) await pub.ok({ t: 'pub', cache, topic, value: topic });
  await receiver.until(4);
  t.same(receiver.received.slice(2).map((r) => r.path), ['/new', '/new'], 'the new endpoint sends its own');
  await waitFor('the old requests ended by the server', () => receiver.abandoned === 2);
  t.equal(open(), 2, 'the receiver has at most maxInFlight requests open');
  t.same(receiver.received.map((r) => JSON.parse(r.text).events[0].topic), ['a', 'b', 'c', 'd'], 'the old requests\' events are dropped with the old queue, not sent again');
});
