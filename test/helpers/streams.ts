/** Open streams of one credential over every transport that holds one, and how each ended. */
import type { Test } from 'tap';
import { pubsub } from '@gomomento/generated-types';
import { Metadata, credentials, makeGenericClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import type { TidingsServer } from '../../src/index.js';
import { encodeFrame } from '../../src/protocol/index.js';
import { RawClient } from './raw-client.js';
import { SseReader, openSdkStream } from './sse.js';
import { waitFor } from './wait.js';

/** A grpc-web Subscribe (the web SDK's transport): `opened` at its first message, `ended` with the
 * status and message of its trailer. */
export function grpcWebSubscribe(httpUrl: string, token: string, cache: string, topic: string) {
  const message = new pubsub.cache_client.pubsub._SubscriptionRequest({ cache_name: cache, topic }).serialize();
  const body = Buffer.alloc(5 + message.byteLength);
  body.writeUInt32BE(message.byteLength, 1);
  body.set(message, 5);
  const abort = new AbortController();
  let opened!: () => void;
  const started = new Promise<void>((resolve) => { opened = resolve; });
  const ended = (async () => {
    const res = await fetch(`${httpUrl}/cache_client.pubsub.Pubsub/Subscribe`, {
      method: 'POST', headers: { 'content-type': 'application/grpc-web-text', 'x-grpc-web': '1', authorization: token }, body: body.toString('base64'), signal: abort.signal,
    });
    const decoder = new TextDecoder();
    let text = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      // Each frame is base64 of its own: read them all again as more arrives.
      let bytes = Buffer.alloc(0);
      for (const part of text.match(/[A-Za-z0-9+/]+={0,2}/g) ?? []) bytes = Buffer.concat([bytes, Buffer.from(part, 'base64')]);
      while (bytes.length >= 5 && bytes.length >= 5 + bytes.readUInt32BE(1)) {
        const frame = bytes.subarray(5, 5 + bytes.readUInt32BE(1));
        if (bytes[0] === 0) opened();
        else return decodeURIComponent(/grpc-message:(.*)\r\n/.exec(frame.toString())?.[1] ?? '') + ` (status ${/grpc-status:(\d+)/.exec(frame.toString())?.[1]})`;
        bytes = bytes.subarray(5 + frame.length);
      }
    }
    return 'ended without a trailer';
  })().catch((err: Error) => `failed: ${err.message}`);
  return { opened: started, ended, close: () => abort.abort() };
}

/** One credential's open stream of every kind on `node` (WebSocket, the SDK's fallback stream, SSE,
 * a waiting long-poll, gRPC and grpc-web Subscribe), each on chat/quiet, for cases where the server
 * must end them all (a revocation, the credential's expiry). `tokenId`: the credential's, to wait
 * until the node holds all six sessions. `ended()` answers how each ended, in words a case compares. */
export async function openStreams(t: Test, node: TidingsServer, token: string, tokenId: string) {
  const auth = { authorization: `Bearer ${token}` };
  const ws = await RawClient.open(node, token);
  t.teardown(() => ws.close());
  await ws.ok({ t: 'sub', cache: 'chat', topic: 'quiet' });
  const fallback = await openSdkStream(t, node.httpUrl);
  await fallback.postFrames(encodeFrame({ t: 'hello', id: 1, versions: [1], token }), encodeFrame({ t: 'sub', id: 2, cache: 'chat', topic: 'quiet' }));
  await fallback.stream.until(() => fallback.frames().some((f) => f['id'] === 2 && f['t'] === 'ok'));
  const sse = await SseReader.open(`${node.httpUrl}/v1/sse?cache=chat&topic=quiet`, auth);
  t.teardown(() => sse.close());
  await sse.until((r) => r.events.some((e) => e.event === 'ready'));
  const poll = fetch(`${node.httpUrl}/v1/poll?cache=chat&topic=quiet&waitMs=60000`, { headers: auth });
  const Client = makeGenericClientConstructor(pubsub.cache_client.pubsub.UnimplementedPubsubService.definition as ServiceDefinition, 'cache_client.pubsub.Pubsub');
  const grpc = new Client(`127.0.0.1:${node.momentoPort}`, credentials.createInsecure()) as unknown as Record<string, (...args: unknown[]) => any> & { close(): void };
  t.teardown(() => grpc.close());
  const md = new Metadata();
  md.set('authorization', token);
  const call = grpc['Subscribe']!(new pubsub.cache_client.pubsub._SubscriptionRequest({ cache_name: 'chat', topic: 'quiet' }), md);
  const grpcEnded = new Promise<string>((resolve) => call.on('error', (err: { code: number; details: string }) => resolve(`${err.details} (status ${err.code})`)));
  await new Promise((resolve) => call.once('data', resolve));
  const web = grpcWebSubscribe(node.httpUrl, token, 'chat', 'quiet');
  t.teardown(() => web.close());
  await web.opened;
  await waitFor('every stream to hold its session', () => [...node.broker.sessions.values()].filter((s) => s.grant?.tokenId === tokenId).length === 6);
  return {
    ended: async () => ({
      websocket: `close ${(await ws.waitClosed(30_000)).code}`,
      'sdk stream': await fallback.stream.until((r) => r.ended, 30_000).then(() => `bye ${fallback.frames().at(-1)?.['code']}`),
      sse: await sse.until((r) => r.ended, 30_000).then(() => `bye ${sse.events.at(-1)?.json?.code}`),
      'long-poll': await poll.then(async (res) => `${res.status} ${((await res.json()) as { error: { message: string } }).error.message}`),
      grpc: await grpcEnded,
      'grpc-web': await web.ended,
    }),
  };
}
