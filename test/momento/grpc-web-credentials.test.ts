/** A grpc-web call's credential is verified once: its `authorization` header is checked (signature
 * and all) before the body is read, and the call's session opens with that grant, rechecking only
 * expiry and revocation; so a credential revoked while the body uploads is still refused
 * (UNAUTHENTICATED, the SDKs' AUTHENTICATION_ERROR) and the call applies nothing; so is one that expires meanwhile
 * (past auth.clockToleranceSec, as verification allows). */
import t, { type Test } from 'tap';
import http from 'node:http';
import { cache } from '@gomomento/generated-types';
import { pubsub } from '@gomomento/generated-types';
import { CacheGet } from '@gomomento/sdk';
import { ManualClock, PermissionScopes, type TidingsServer } from '../../src/index.js';
import { apiKeyFor, momentoClients, startMomentoServer } from '../helpers/momento.js';
import { eventually } from '../helpers/wait.js';

function frame(bytes: Uint8Array): string {
  const b = Buffer.alloc(5 + bytes.length); b.writeUInt32BE(bytes.length, 1); Buffer.from(bytes).copy(b, 5); return b.toString('base64');
}

/** The decoded trailer of a grpc-web-text response (every frame is base64 on its own). */
function trailerOf(text: string): string {
  let rest = Buffer.alloc(0);
  let trailer = '';
  for (const part of text.match(/[A-Za-z0-9+/]+={0,2}/g) ?? []) {
    rest = Buffer.concat([rest, Buffer.from(part, 'base64')]);
    while (rest.length >= 5 && rest.length >= 5 + rest.readUInt32BE(1)) {
      const len = rest.readUInt32BE(1);
      if (rest[0] === 0x80) trailer = rest.subarray(5, 5 + len).toString();
      rest = rest.subarray(5 + len);
    }
  }
  return trailer;
}

/** Starts a grpc-web POST whose body is sent by the caller; answers the response text once it ends. */
function call(url: string, path: string, headers: Record<string, string>, length: number) {
  const req = http.request(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/grpc-web-text', 'x-grpc-web': '1', 'content-length': String(length), ...headers } });
  const text = new Promise<string>((resolve) => {
    req.on('error', () => resolve(''));
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve(body));
    });
  });
  return { req, text };
}

t.test('one signature verification per grpc-web call (unary, batch and Subscribe)', async (t) => {
  const server = await startMomentoServer(t);
  const key = await apiKeyFor(server);
  // Counted on the server's own TokenAuthority, calling through: the recheck after the body is
  // read does not verify the signature again.
  let verifications = 0;
  const verify = server.auth.verify.bind(server.auth);
  server.auth.verify = (token: unknown) => { verifications++; return verify(token); };
  const headers = { authorization: key, cache: 'chat' };

  const set = frame(new cache.cache_client._SetRequest({ cache_key: Buffer.from('k'), cache_body: Buffer.from('v'), ttl_milliseconds: 60_000 }).serialize());
  const unary = call(server.httpUrl, '/cache_client.Scs/Set', headers, set.length);
  unary.req.end(set);
  t.match(trailerOf(await unary.text), /grpc-status:0\r/, 'the Set succeeded');
  t.equal(verifications, 1, 'a unary call verified its credential once');

  const batch = frame(new cache.cache_client._GetBatchRequest({ items: [new cache.cache_client._GetRequest({ cache_key: Buffer.from('k') })] }).serialize());
  const streamed = call(server.httpUrl, '/cache_client.Scs/GetBatch', headers, batch.length);
  streamed.req.end(batch);
  t.match(trailerOf(await streamed.text), /grpc-status:0\r/, 'the GetBatch succeeded');
  t.equal(verifications, 2, 'a batch call verified its credential once');

  const sub = frame(new pubsub.cache_client.pubsub._SubscriptionRequest({ cache_name: 'chat', topic: 'r' }).serialize());
  const subscribe = call(server.httpUrl, '/cache_client.pubsub.Pubsub/Subscribe', { authorization: key }, sub.length);
  subscribe.req.end(sub);
  t.ok(await eventually(() => server.broker.sessions.size === 1), 'the Subscribe opened its session');
  t.equal(verifications, 3, 'a Subscribe verified its credential once');
  subscribe.req.destroy();
  t.ok(await eventually(() => server.broker.sessions.size === 0), 'the aborted Subscribe released its session');
});

/** A grpc-web Set with `credential` whose body is held back until `meanwhile` ran: refused
 * UNAUTHENTICATED for `reason` once the body is in, and nothing stored. */
async function refusedMidUpload(t: Test, server: TidingsServer, credential: string, meanwhile: () => unknown, reason: RegExp): Promise<void> {
  const body = frame(new cache.cache_client._SetRequest({ cache_key: Buffer.from('late'), cache_body: Buffer.alloc(4096, 7), ttl_milliseconds: 600_000 }).serialize());
  const upload = call(server.httpUrl, '/cache_client.Scs/Set', { authorization: credential, cache: 'chat' }, body.length);
  upload.req.write(body.slice(0, 100));
  t.ok(await eventually(() => server.bodies.inFlight > 0), 'the call was let in: its credential was valid, its body is being read');
  await meanwhile();
  upload.req.end(body.slice(100));
  const trailer = trailerOf(await upload.text);
  t.match(trailer, /grpc-status:16\r/, `refused as UNAUTHENTICATED once the body was in: ${JSON.stringify(trailer)}`);
  t.match(decodeURIComponent(trailer), reason);

  const { cache: client } = await momentoClients(t, server, await apiKeyFor(server, undefined, 'reader'));
  const got = await client.get('chat', 'late');
  t.ok(got instanceof CacheGet.Miss, `the refused Set stored nothing (a get answers ${got.constructor.name})`);
}

t.test('a grpc-web Set whose credential is revoked while its body uploads is refused, nothing stored', async (t) => {
  const server = await startMomentoServer(t);
  await refusedMidUpload(t, server, await apiKeyFor(server, undefined, 'uploader'), () => server.revoke({ tokenId: 'uploader' }), /revoked/);
});

t.test('a grpc-web Set whose credential expires while its body uploads is refused, nothing stored', async (t) => {
  const clock = new ManualClock(Date.now());
  const server = await startMomentoServer(t, { clock });
  const { token } = await server.auth.mintDisposableToken({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: 60, tokenId: 'uploader' });
  await refusedMidUpload(t, server, token, () => clock.advance((60 + server.config.auth.clockToleranceSec + 1) * 1000), /expired/);
});

t.test('a grpc-web Set whose credential passes its exp while its body uploads, yet within auth.clockToleranceSec, is applied', async (t) => {
  // The recheck allows the tolerance verification allowed: else a call let in would be refused
  // for a token the next call is let in with.
  const clock = new ManualClock(Date.now());
  const server = await startMomentoServer(t, { clock });
  const { token } = await server.auth.mintDisposableToken({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: 60 });
  const body = frame(new cache.cache_client._SetRequest({ cache_key: Buffer.from('late'), cache_body: Buffer.from('v'), ttl_milliseconds: 600_000 }).serialize());
  const upload = call(server.httpUrl, '/cache_client.Scs/Set', { authorization: token, cache: 'chat' }, body.length);
  upload.req.write(body.slice(0, 4));
  t.ok(await eventually(() => server.bodies.inFlight > 0), 'the call was let in, its body is being read');
  clock.advance((60 + server.config.auth.clockToleranceSec - 1) * 1000);
  upload.req.end(body.slice(4));
  t.match(trailerOf(await upload.text), /grpc-status:0\r/, 'the Set succeeded');
  const { cache: client } = await momentoClients(t, server, await apiKeyFor(server, undefined, 'reader'));
  t.ok(await client.get('chat', 'late') instanceof CacheGet.Hit, 'and stored its item');
});
