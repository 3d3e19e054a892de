/** Stopping a server with the gRPC listener: a unary call in flight when the stop begins is answered
 * (drained within server.shutdownGraceMs, not cut after a fixed second), a Subscribe stream ends
 * UNAVAILABLE "server shutting down" (docs/momento-compat.md), a call in flight past the grace is
 * cut, and a server with no gRPC calls in flight stops. */
import t from 'tap';
import http2 from 'node:http2';
import { cache, pubsub } from '@gomomento/generated-types';
import { Metadata, credentials, makeGenericClientConstructor, status, type ServiceDefinition } from '@grpc/grpc-js';
import { apiKeyFor, startMomentoServer } from '../helpers/momento.js';
import { eventually } from '../helpers/wait.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A native gRPC Set over a raw HTTP/2 stream whose message the test sends in two parts, so the
 * call is in flight (open, not yet answered) for as long as the test holds the second part. */
async function heldSet(port: number, key: string) {
  const message = new cache.cache_client._SetRequest({ cache_key: Buffer.from('held'), cache_body: Buffer.from('value'), ttl_milliseconds: 60_000 }).serialize();
  const framed = Buffer.alloc(5 + message.length);
  framed.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(framed, 5);
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  await new Promise((resolve) => session.once('connect', resolve));
  const stream = session.request({
    ':method': 'POST', ':path': '/cache_client.Scs/Set', 'content-type': 'application/grpc', te: 'trailers', authorization: key, cache: 'chat',
  });
  stream.on('error', () => {});
  stream.write(framed.subarray(0, 8));
  // A PING is acknowledged after the frames before it were processed: then the server has the call.
  const received = new Promise<void>((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve())));
  const answer = new Promise<string>((resolve) => {
    let grpcStatus = 'none';
    stream.on('response', (headers) => { if (headers['grpc-status'] !== undefined) grpcStatus = String(headers['grpc-status']); });
    stream.on('trailers', (trailers) => { grpcStatus = String(trailers['grpc-status']); });
    stream.on('data', () => {});
    stream.on('close', () => resolve(`${grpcStatus} (rst ${stream.rstCode})`));
  });
  return { received, finish: () => stream.end(framed.subarray(8)), answer, close: () => session.close() };
}

t.test('a unary gRPC call in flight when the server stops is answered, and a Subscribe ends UNAVAILABLE', async (t) => {
  const server = await startMomentoServer(t, { config: { server: { shutdownGraceMs: 30_000 } } });
  const key = await apiKeyFor(server);
  const Pubsub = makeGenericClientConstructor(pubsub.cache_client.pubsub.UnimplementedPubsubService.definition as unknown as ServiceDefinition, 'Pubsub');
  const client = new Pubsub(`127.0.0.1:${server.momentoPort!}`, credentials.createInsecure()) as unknown as Record<string, (...a: unknown[]) => any> & { close(): void };
  t.teardown(() => client.close());
  const md = new Metadata(); md.set('authorization', key);
  const sub = client['Subscribe']!(new pubsub.cache_client.pubsub._SubscriptionRequest({ cache_name: 'chat', topic: 'r' }), md);
  const subEnded = new Promise<{ code: number; details: string }>((resolve) => sub.on('error', resolve));
  sub.on('data', () => {});
  await new Promise((resolve) => sub.once('data', resolve));

  const held = await heldSet(server.momentoPort!, key);
  t.teardown(() => held.close());
  await held.received;
  let stopped = false;
  const stopping = server.close().then(() => { stopped = true; });
  const ended = await subEnded;
  t.equal(ended.code, status.UNAVAILABLE, `the Subscribe ended ${status[ended.code]}`);
  t.match(ended.details, /server shutting down/);
  // Longer than the fixed second the listener used to give in-flight calls before cutting them.
  await sleep(1500);
  t.notOk(stopped, 'the stop waits for the call in flight');
  held.finish();
  t.equal(await held.answer, '0 (rst 0)', 'the call in flight was answered OK, not cut');
  await stopping;
  t.ok(stopped, 'then the stop completed');
});

t.test('a gRPC call still in flight when server.shutdownGraceMs passes is cut, and the stop completes', async (t) => {
  const server = await startMomentoServer(t, { config: { server: { shutdownGraceMs: 100 } } });
  const key = await apiKeyFor(server);
  const held = await heldSet(server.momentoPort!, key);
  t.teardown(() => held.close());
  await held.received;
  await server.close();
  const answer = await held.answer;
  t.not(answer, '0 (rst 0)', `never answered OK: ${answer}`);
});

t.test('a server with no gRPC calls in flight stops, its idle gRPC clients disconnected', async (t) => {
  const server = await startMomentoServer(t);
  const key = await apiKeyFor(server);
  const Scs = makeGenericClientConstructor(cache.cache_client.UnimplementedScsService.definition as unknown as ServiceDefinition, 'Scs');
  const client = new Scs(`127.0.0.1:${server.momentoPort!}`, credentials.createInsecure()) as unknown as Record<string, (...a: unknown[]) => any> & { close(): void; getChannel(): { getConnectivityState(c: boolean): number } };
  t.teardown(() => client.close());
  const md = new Metadata(); md.set('authorization', key); md.set('cache', 'chat');
  const err = await new Promise((resolve) => client['Get']!(new cache.cache_client._GetRequest({ cache_key: Buffer.from('k') }), md, resolve));
  t.equal(err, null, 'a call was answered: the client holds an idle connection');
  await server.close();
  // READY is 2: the server's stop closed the connection.
  t.ok(await eventually(() => client.getChannel().getConnectivityState(false) !== 2), 'the idle client was disconnected');
});
