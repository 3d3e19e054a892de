/** A webhook URL or push endpoint with user:password@ (which fetch refuses, so nothing could ever be
 * delivered) is refused at registration with INVALID_ARGUMENT_ERROR. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { PermissionScopes } from '../../src/index.js';

const CACHE = 'app';

t.test('a webhook URL is either refused or delivered to', async (t) => {
  const server = await startServer(t, { config: { webhooks: { timeoutMs: 300, maxAttempts: 2, backoffInitialMs: 10, backoffMaxMs: 20, endpoints: [] } } });
  const receiver = await HttpReceiver.start(t);
  const admin = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const url = receiver.url.replace('http://', 'http://user:pass@') + '/hook';
  const put = await fetch(`${server.httpUrl}/v1/webhooks/${CACHE}/hook`, {
    method: 'PUT', headers: { authorization: `Bearer ${admin}` }, body: JSON.stringify({ url, topicPrefix: '', events: ['item.published'] }),
  });
  if (put.status !== 200) { t.equal(put.status, 400, 'refused'); return; }
  const pub = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe(CACHE, '*'), { tokenId: 'p' }));
  await pub.ok({ t: 'pub', cache: CACHE, topic: 'x', value: 'v' });
  await new Promise((r) => setTimeout(r, 500));
  t.equal(receiver.received.length, 1, `accepted (200) so it must be delivered; received ${receiver.received.length}`);
  pub.close();
});
