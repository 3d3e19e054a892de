/** Retries take a slot like first attempts: a struggling receiver gets at most webhooks.maxInFlight
 * requests at once (docs/webhooks.md), not one per queued topic. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { PermissionScopes } from '../../src/index.js';

const CACHE = 'app';

t.test('retries respect webhooks.maxInFlight', async (t) => {
  const server = await startServer(t, {
    config: { webhooks: { allowPrivateUrls: true, timeoutMs: 2000, maxAttempts: 3, backoffInitialMs: 20, backoffMaxMs: 40, maxInFlight: 2, endpoints: [] } },
  });
  const receiver = await HttpReceiver.start(t);
  const seenTopics = new Set<string>();
  let maxConcurrent = 0;
  receiver.respond = (r, index) => {
    maxConcurrent = Math.max(maxConcurrent, index + 1 - receiver.answered);
    const topic = (JSON.parse(r.text) as { events: Array<{ topic: string }> }).events[0]!.topic;
    if (!seenTopics.has(topic)) { seenTopics.add(topic); return { status: 503 }; } // first attempt fails at once
    return { status: 200, delayMs: 300 }; // the retry is slow
  };
  const admin = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const put = await fetch(`${server.httpUrl}/v1/webhooks/${CACHE}/hook`, {
    method: 'PUT', headers: { authorization: `Bearer ${admin}` },
    body: JSON.stringify({ url: `${receiver.url}/hook`, topicPrefix: '', events: ['item.published'] }),
  });
  t.equal(put.status, 200);
  const pub = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe(CACHE, '*'), { tokenId: 'p' }));
  for (let i = 0; i < 10; i++) await pub.ok({ t: 'pub', cache: CACHE, topic: `topic-${i}`, value: `v${i}` });
  await receiver.untilEvents(20, 10_000);
  t.ok(maxConcurrent <= 2, `at most maxInFlight (2) requests at once; saw ${maxConcurrent}`);
  pub.close();
});
