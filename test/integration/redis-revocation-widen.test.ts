/** A jti revocation widened on one node (revoked again with a longer `until`) is widened on every
 * node's copy of the list, not forgotten there at the first `until`. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { PermissionScopes, generateSigningKey } from '../../src/index.js';

t.test('a widened jti revocation is widened on every node', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('rev');
  t.teardown(() => deletePrefix(url, prefix));
  const config = { auth: { signingKeys: [generateSigningKey()] } };
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const token = await tokenFor(a, PermissionScopes.allDataReadWrite(), { tokenId: 'u', expiresInSec: 300 });
  const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())['jti'] as string;
  t.ok(jti, 'the token has a jti');

  await a.revoke({ jti, until: Date.now() + 1000 });
  await a.revoke({ jti, until: null }); // widened: forever
  // A fixed time on purpose: the clock must pass the first `until`, and nothing may be forgotten then.
  await new Promise((r) => setTimeout(r, 1500)); // past the first until

  const onA = await RawClient.open(a, token).then((c) => { c.close(); return 'accepted'; }, () => 'refused');
  const onB = await RawClient.open(b, token).then((c) => { c.close(); return 'accepted'; }, () => 'refused');
  t.equal(onA, 'refused', 'node A refuses the credential');
  t.equal(onB, 'refused', 'node B refuses it too');
});
