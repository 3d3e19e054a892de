/** A receiver that answers its headers and then trickles a body that never ends cannot hold a
 * sending slot for ever: the whole request, body included, is bounded by webhooks.timeoutMs, so
 * the endpoint's next request still goes out (here, with one slot, on another topic). Garbage is
 * collected while the answer trickles: a timeout kept only by a signal (AbortSignal.timeout inside
 * AbortSignal.any, nodejs/node#57736) was collected before it fired, and the request never ended. */
import t from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';
import { PermissionScopes } from '../../src/index.js';

const CACHE = 'app';
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

t.test('a never-ending answer body is cut at webhooks.timeoutMs', async (t) => {
  const server = await startServer(t, {
    config: { webhooks: { allowPrivateUrls: true, timeoutMs: 1000, maxInFlight: 1, maxAttempts: 1, endpoints: [] } },
  });
  const topics: string[] = [];
  const open = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      topics.push((JSON.parse(Buffer.concat(chunks).toString()) as { events: Array<{ topic: string }> }).events[0]!.topic);
      res.writeHead(200, { 'content-type': 'text/plain' });
      open.add(res);
      const timer = setInterval(() => { if (!res.destroyed) res.write('.'); }, 100);
      timers.add(timer);
      res.on('close', () => { clearInterval(timer); open.delete(res); });
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  t.teardown(() => { for (const timer of timers) clearInterval(timer); receiver.closeAllConnections(); receiver.close(); });
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const admin = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const put = await fetch(`${server.httpUrl}/v1/webhooks/${CACHE}/hook`, {
    method: 'PUT', headers: { authorization: `Bearer ${admin}` }, body: JSON.stringify({ url, topicPrefix: '', events: ['item.published'] }),
  });
  t.equal(put.status, 200);
  const pub = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe(CACHE, '*'), { tokenId: 'p' }));
  t.teardown(() => pub.close());
  await pub.ok({ t: 'pub', cache: CACHE, topic: 'first', value: 'v' });
  await waitFor('the first request', () => topics.length === 1);
  collectGarbage();
  await pub.ok({ t: 'pub', cache: CACHE, topic: 'second', value: 'v' });
  await waitFor('the second request, once the first answer was cut', () => topics.length === 2, 10_000);
  t.same(topics, ['first', 'second']);
  await waitFor('the first answer\'s connection to be closed', () => open.size <= 1, 10_000);
  t.ok(open.size <= 1, 'the cut answer\'s connection is closed');
});
