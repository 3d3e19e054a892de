/** A grpc-web POST with a valid credential whose framing is valid but whose protobuf message is
 * not is answered INVALID_ARGUMENT; the server process lives on. */
import t from 'tap';
import { PermissionScopes } from '../../src/index.js';
import { startServer } from '../helpers/server.js';

t.test('grpc-web: a malformed protobuf message is INVALID_ARGUMENT, not a crash', async (t) => {
  const server = await startServer(t, { config: { momento: { enabled: true, port: 0 } } });
  const key = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const payload = Buffer.from([0x0f, 0x01]); // field 1 with wire type 7: invalid
  const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, payload.length]), payload]);
  for (const path of ['/cache_client.Scs/Get', '/cache_client.pubsub.Pubsub/Publish', '/cache_client.pubsub.Pubsub/Subscribe']) {
    const r = await fetch(`${server.httpUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/grpc-web-text', authorization: key }, body: frame.toString('base64') });
    const text = await r.text();
    t.equal(r.status, 200, `${path} answered`);
    t.ok(r.headers.get('grpc-status') === '3' || /grpc-status:\s*3/.test(Buffer.from(text, 'base64').toString('latin1')), `${path}: grpc-status 3 (INVALID_ARGUMENT)`);
  }
  t.equal((await fetch(`${server.httpUrl}/healthz`)).status, 200, 'the server is still up');
});
