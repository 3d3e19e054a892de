/** The gRPC listener frees the slots of connections that do nothing: one that never opens HTTP/2
 * (no preface and SETTINGS) is closed after momento.openingTimeoutMs, one with no call in flight is
 * closed with GOAWAY after momento.idleTimeoutMs and its grpc-js client's next call reconnects and
 * succeeds; a connection carrying a live Subscribe stream is not idle and keeps delivering. With
 * momento.maxConnections silent sockets open, a real client gets a slot once they are closed. One
 * address holds at most momento.maxConnectionsPerIp connections.
 * Calls are held to their request too: one without a valid credential is refused from its headers,
 * one whose request does not arrive within momento.requestReadTimeoutMs is ended. */
import t from 'tap';
import net from 'node:net';
import http2 from 'node:http2';
import { cache, pubsub } from '@gomomento/generated-types';
import { Metadata, credentials, makeGenericClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { PermissionScopes } from '../../src/index.js';
import { apiKeyFor, startMomentoServer } from '../helpers/momento.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';

const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
const GOAWAY = 7;

/** A raw TCP connection to the listener: the HTTP/2 frame types it received, and whether it closed. */
async function rawConnection(port: number, send: 'nothing' | 'the preface and part of SETTINGS' | 'preface', localAddress?: string) {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  const state = { socket, types: [] as number[], closed: false };
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 9) {
      const length = pending.readUIntBE(0, 3);
      if (pending.length < 9 + length) break;
      state.types.push(pending[3]!);
      pending = pending.subarray(9 + length);
    }
  });
  socket.on('close', () => { state.closed = true; });
  // The 24-octet preface alone does not open HTTP/2: its SETTINGS frame is part of the opening.
  if (send === 'the preface and part of SETTINGS') socket.write(Buffer.concat([Buffer.from(PREFACE), EMPTY_SETTINGS.subarray(0, 5)]));
  if (send === 'preface') { socket.write(PREFACE); socket.write(EMPTY_SETTINGS); }
  return state;
}

type AnyClient = Record<string, (...args: unknown[]) => any> & { close(): void };
function grpcClient(port: number, def: unknown, name: string): AnyClient {
  const Client = makeGenericClientConstructor(def as ServiceDefinition, name);
  return new Client(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as AnyClient;
}
const Scs = cache.cache_client.UnimplementedScsService.definition;
const Pubsub = pubsub.cache_client.pubsub.UnimplementedPubsubService.definition;

function get(client: AnyClient, key: string): Promise<unknown> {
  const md = new Metadata(); md.set('authorization', key); md.set('cache', 'chat');
  return new Promise((resolve) => client['Get']!(new cache.cache_client._GetRequest({ cache_key: Buffer.from('k') }), md, { deadline: Date.now() + 5000 }, resolve));
}

t.test('a connection that never opens HTTP/2 is closed; one that did is kept; the slots are freed', async (t) => {
  const server = await startMomentoServer(t, { config: { momento: { maxConnections: 3, openingTimeoutMs: 1000, idleTimeoutMs: 600_000 } } });
  const opened = await rawConnection(server.momentoPort!, 'preface');
  const silent = await rawConnection(server.momentoPort!, 'nothing');
  const partial = await rawConnection(server.momentoPort!, 'the preface and part of SETTINGS');
  t.teardown(() => { for (const c of [opened, silent, partial]) c.socket.destroy(); });
  await waitFor('the silent connection to be closed', () => silent.closed);
  await waitFor('the connection that sent only part of its SETTINGS frame to be closed', () => partial.closed);
  // Connected first, so its opening deadline passed before the silent one's: it was checked and kept.
  t.equal(opened.closed, false, 'the connection that sent its preface and SETTINGS is kept');
  t.ok(opened.types.includes(4), 'and was answered with SETTINGS');

  const key = await apiKeyFor(server);
  const client = grpcClient(server.momentoPort!, Scs, 'Scs');
  t.teardown(() => client.close());
  t.equal(await get(client, key), null, 'a client takes a slot the silent sockets held, and its call is answered');
});

t.test('an idle connection gets GOAWAY and is closed; its grpc-js client reconnects on the next call', async (t) => {
  const server = await startMomentoServer(t, { config: { momento: { openingTimeoutMs: 600_000, idleTimeoutMs: 300 } } });
  const raw = await rawConnection(server.momentoPort!, 'preface');
  t.teardown(() => raw.socket.destroy());
  await waitFor('the idle raw connection to be closed', () => raw.closed);
  t.ok(raw.types.includes(GOAWAY), `it was told GOAWAY first (frame types ${raw.types.join(',')})`);

  const proxy = await startTcpProxy(server.momentoPort!);
  t.teardown(() => proxy.close());
  const key = await apiKeyFor(server);
  const client = grpcClient(proxy.port, Scs, 'Scs');
  t.teardown(() => client.close());
  t.equal(await get(client, key), null, 'a first call is answered');
  t.equal(proxy.accepted, 1, 'over one connection');
  // The server closes it once idle; grpc-js notices the GOAWAY and leaves READY.
  const channel = (client as unknown as { getChannel(): { getConnectivityState(connect: boolean): number } }).getChannel();
  await waitFor('the client channel to leave READY after the GOAWAY', () => channel.getConnectivityState(false) !== 2);
  t.equal(await get(client, key), null, 'the next call is answered too');
  t.equal(proxy.accepted, 2, 'over a new connection');
});

t.test('a connection with a live Subscribe stream is not idle: it stays open and keeps delivering', async (t) => {
  const server = await startMomentoServer(t, { config: { momento: { openingTimeoutMs: 600_000, idleTimeoutMs: 300 } } });
  const key = await apiKeyFor(server);
  const proxy = await startTcpProxy(server.momentoPort!);
  t.teardown(() => proxy.close());
  const client = grpcClient(proxy.port, Pubsub, 'Pubsub');
  t.teardown(() => client.close());
  const md = new Metadata(); md.set('authorization', key);
  const call = client['Subscribe']!(new pubsub.cache_client.pubsub._SubscriptionRequest({ cache_name: 'chat', topic: 'room' }), md);
  t.teardown(() => call.cancel());
  const texts: string[] = [];
  let ended: unknown;
  call.on('data', (m: { item?: { value?: { text?: string } } }) => { if (m.item?.value?.text) texts.push(m.item.value.text); });
  call.on('error', (e: unknown) => { ended = e; });
  call.on('end', () => { ended ??= 'end'; });
  await new Promise((resolve) => call.once('data', resolve));

  // Two idle connections opened after the stream, closed one after the other: more than twice the
  // idle timeout has passed for the stream's connection too.
  for (let i = 0; i < 2; i++) {
    const idle = await rawConnection(server.momentoPort!, 'preface');
    t.teardown(() => idle.socket.destroy());
    await waitFor('an idle connection opened meanwhile to be closed', () => idle.closed);
  }
  const publisher = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', 'room')));
  t.teardown(() => publisher.close());
  await publisher.ok({ t: 'pub', cache: 'chat', topic: 'room', value: 'still here' });
  await waitFor('the item on the stream', () => texts.includes('still here'));
  t.equal(ended, undefined, 'the stream never ended');
  t.equal(proxy.accepted, 1, 'on its first and only connection');
});

/** A raw HTTP/2 call that sends its headers and `message` (whole, or the first `sent` bytes of a
 * `length`-byte one) and never ends its stream: the status it is answered with, and whether its
 * stream closed. */
function rawCall(session: http2.ClientHttp2Session, path: string, metadata: Record<string, string>, message: { length: number; sent: number } | Uint8Array) {
  const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...metadata });
  const state = { status: undefined as number | undefined, message: '', closed: false };
  const take = (headers: http2.IncomingHttpHeaders) => {
    if (headers['grpc-status'] === undefined) return;
    state.status = Number(headers['grpc-status']);
    state.message = decodeURIComponent(String(headers['grpc-message'] ?? ''));
  };
  stream.on('response', take);
  stream.on('trailers', take);
  stream.on('close', () => { state.closed = true; });
  stream.on('error', () => {});
  stream.resume();
  const prefix = Buffer.alloc(5);
  if (message instanceof Uint8Array) {
    prefix.writeUInt32BE(message.byteLength, 1);
    stream.write(Buffer.concat([prefix, message]));
  } else {
    prefix.writeUInt32BE(message.length, 1);
    stream.write(Buffer.concat([prefix, Buffer.alloc(message.sent, 1)]));
  }
  return state;
}

const UNAUTHENTICATED = 16;
const DEADLINE_EXCEEDED = 4;

t.test('a call without a valid credential is answered UNAUTHENTICATED from its headers, before its message arrives', async (t) => {
  const server = await startMomentoServer(t, { config: { momento: { requestReadTimeoutMs: 600_000 } } });
  const session = http2.connect(`http://127.0.0.1:${server.momentoPort!}`);
  session.on('error', () => {});
  t.teardown(() => session.destroy());
  // 64 KiB of a 4 MB message: the server would hold the rest as it came, for as long as it took.
  const large = { length: 4_000_000, sent: 64 * 1024 };
  const calls = {
    'no credential': rawCall(session, '/cache_client.Scs/Set', { cache: 'chat' }, large),
    'a bad credential': rawCall(session, '/cache_client.Scs/Set', { cache: 'chat', authorization: 'not-a-token' }, large),
    'a Subscribe without a credential': rawCall(session, '/cache_client.pubsub.Pubsub/Subscribe', {}, large),
  };
  for (const [what, call] of Object.entries(calls)) {
    await waitFor(`the call with ${what} to be answered and closed`, () => call.closed);
    t.equal(call.status, UNAUTHENTICATED, `${what}: UNAUTHENTICATED (${call.message})`);
  }
  t.equal(calls['no credential'].message, 'a token is required', 'with the message a handler gave');

  const client = grpcClient(server.momentoPort!, Scs, 'Scs');
  t.teardown(() => client.close());
  t.equal(await get(client, await apiKeyFor(server)), null, 'a call with a valid credential is answered');
});

t.test('a call whose request has not arrived within momento.requestReadTimeoutMs is ended with DEADLINE_EXCEEDED', async (t) => {
  const server = await startMomentoServer(t, { config: { momento: { requestReadTimeoutMs: 300 } } });
  const key = await apiKeyFor(server);
  const client = grpcClient(server.momentoPort!, Pubsub, 'Pubsub');
  t.teardown(() => client.close());
  const md = new Metadata(); md.set('authorization', key);
  const subscription = client['Subscribe']!(new pubsub.cache_client.pubsub._SubscriptionRequest({ cache_name: 'chat', topic: 'room' }), md);
  t.teardown(() => subscription.cancel());
  const texts: string[] = [];
  let ended: unknown;
  subscription.on('data', (m: { item?: { value?: { text?: string } } }) => { if (m.item?.value?.text) texts.push(m.item.value.text); });
  subscription.on('error', (e: unknown) => { ended = e; });
  await new Promise((resolve) => subscription.once('data', resolve));

  const session = http2.connect(`http://127.0.0.1:${server.momentoPort!}`);
  session.on('error', () => {});
  t.teardown(() => session.destroy());
  const getRequest = new cache.cache_client._GetRequest({ cache_key: Buffer.from('k') }).serializeBinary();
  const calls = {
    'a unary call stopped mid-message': rawCall(session, '/cache_client.Scs/Set', { cache: 'chat', authorization: key }, { length: 1_000_000, sent: 64 * 1024 }),
    'a Subscribe stopped mid-message': rawCall(session, '/cache_client.pubsub.Pubsub/Subscribe', { authorization: key }, { length: 1000, sent: 10 }),
    'a unary call that sent its message but never ended its stream': rawCall(session, '/cache_client.Scs/Get', { cache: 'chat', authorization: key }, getRequest),
    'a call to a method without a header credential stopped mid-message': rawCall(session, '/token.Token/GenerateDisposableToken', {}, { length: 1000, sent: 10 }),
  };
  for (const [what, call] of Object.entries(calls)) {
    await waitFor(`${what} to be ended and closed`, () => call.closed);
    t.equal(call.status, DEADLINE_EXCEEDED, `${what}: DEADLINE_EXCEEDED`);
    t.match(call.message, /momento\.requestReadTimeoutMs \(300 ms\)/, 'naming the knob');
  }

  // Open since before the raw calls, so well past the timeout: a request that arrived is not ended.
  const publisher = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', 'room')));
  t.teardown(() => publisher.close());
  await publisher.ok({ t: 'pub', cache: 'chat', topic: 'room', value: 'still here' });
  await waitFor('the item on the Subscribe stream', () => texts.includes('still here'));
  t.equal(ended, undefined, 'the Subscribe whose request arrived was not ended');
  const scs = grpcClient(server.momentoPort!, Scs, 'Scs');
  t.teardown(() => scs.close());
  t.equal(await get(scs, key), null, 'a call whose request arrives is answered');
});

t.test('a connection past momento.maxConnectionsPerIp from one address is closed as it arrives; other addresses are served', async (t) => {
  const server = await startMomentoServer(t, { config: { momento: { maxConnectionsPerIp: 2 } } });
  const port = server.momentoPort!;
  const first = await rawConnection(port, 'preface');
  const second = await rawConnection(port, 'preface');
  const third = await rawConnection(port, 'preface');
  // Linux routes all of 127.0.0.0/8 to loopback: a second client address on this host.
  const elsewhere = await rawConnection(port, 'preface', '127.0.0.2');
  t.teardown(() => { for (const c of [first, second, third, elsewhere]) c.socket.destroy(); });
  await waitFor('the third connection from 127.0.0.1 to be closed', () => third.closed);
  t.notOk(third.types.includes(4), 'it was closed unanswered');
  await waitFor('the first two from 127.0.0.1 and the one from 127.0.0.2 to be answered with SETTINGS', () => [first, second, elsewhere].every((c) => c.types.includes(4)));
  t.equal(first.closed || second.closed || elsewhere.closed, false, 'they are kept');

  first.socket.destroy();
  const key = await apiKeyFor(server);
  const client = grpcClient(port, Scs, 'Scs');
  t.teardown(() => client.close());
  // The server sees the close a moment later; grpc-js reconnects with backoff meanwhile.
  await waitFor('a call from 127.0.0.1 to be answered once a slot is free', async () => (await get(client, key)) === null, 30_000);
  t.equal(await get(client, key), null, 'and the next one on the same connection');
});
