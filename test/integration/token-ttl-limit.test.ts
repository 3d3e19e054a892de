/** auth.maxTokenTtlSec holds at every verification, not only when a token is minted: a disposable
 * token that expires later than now + the verifying server's limit is refused with
 * AUTHENTICATION_ERROR (over WebSocket and HTTP), so an operator lowering the limit shortens the
 * tokens already out; tokens within the limit and API keys are unaffected. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { RawClient } from '../helpers/raw-client.js';
import { ManualClock, PermissionScopes, generateSigningKey } from '../../src/index.js';

const scope = PermissionScopes.topicPublishSubscribe('chat', '*');

t.test('a server with a lower maxTokenTtlSec refuses longer-lived tokens minted under a higher one', async (t) => {
  const signingKeys = [generateSigningKey()];
  const generous = await startServer(t, { config: { auth: { signingKeys, maxTokenTtlSec: 7200 } } });
  const strict = await startServer(t, { config: { auth: { signingKeys, maxTokenTtlSec: 3600 } } });
  const long = (await generous.auth.mintDisposableToken({ scope, expiresInSec: 7000, tokenId: 'long' })).token;
  const short = (await generous.auth.mintDisposableToken({ scope, expiresInSec: 600, tokenId: 'short' })).token;
  const apiKey = (await generous.auth.mintApiKey({ scope, expiresInSec: null })).token;

  t.ok(await RawClient.open(generous, long), 'valid where it was minted');

  const c = await RawClient.connect(strict.wsUrl);
  const reply = await c.request({ t: 'hello', versions: [1], token: long });
  t.match(reply['e'], { code: 'AUTHENTICATION_ERROR', message: /auth\.maxTokenTtlSec \(3600 s\)/ }, 'websocket hello refused');
  await c.waitClosed();

  const res = await fetch(`${strict.httpUrl}/v1/topics/chat/room`, { method: 'POST', headers: { authorization: `Bearer ${long}` }, body: 'x' });
  t.equal(res.status, 401, 'HTTP refused');
  t.match(await res.json(), { error: { code: 'AUTHENTICATION_ERROR', message: /maxTokenTtlSec/ } });

  const within = await fetch(`${strict.httpUrl}/v1/topics/chat/room`, { method: 'POST', headers: { authorization: `Bearer ${short}` }, body: 'x' });
  t.equal(within.status, 200, 'a token within the limit still works');
  t.ok(await RawClient.open(strict, short), 'websocket too');
  t.ok(await RawClient.open(strict, apiKey), 'API keys are not disposable tokens: unaffected');
});

t.test('a token of the full maxTokenTtlSec minted on a node whose clock is ahead (within auth.clockToleranceSec) is accepted', async (t) => {
  const signingKeys = [generateSigningKey()];
  const config = { auth: { signingKeys, maxTokenTtlSec: 3600, clockToleranceSec: 5 } };
  const ahead = await startServer(t, { clock: new ManualClock(Date.now() + 4000), config });
  const here = await startServer(t, { config });
  const token = (await ahead.auth.mintDisposableToken({ scope, expiresInSec: 3600 })).token;
  t.ok(await RawClient.open(here, token), 'its exp is up to 4 s past now + maxTokenTtlSec here: within the tolerance');
});
