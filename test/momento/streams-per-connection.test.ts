/** One HTTP/2 connection opens at most momento.maxConcurrentStreamsPerConnection calls at once (the
 * listener advertises it): a client that reads nothing cannot make the server hold an answer for
 * each of hundreds of calls. */
import t from 'tap';
import http2 from 'node:http2';
import { cache } from '@gomomento/generated-types';
import { Metadata, credentials, makeGenericClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { apiKeyFor, startMomentoServer } from '../helpers/momento.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('many concurrent calls on one connection are capped (SETTINGS_MAX_CONCURRENT_STREAMS)', async (t) => {
  const server = await startMomentoServer(t, { config: { momento: { maxConcurrentStreamsPerConnection: 32 } } as never });
  const key = await apiKeyFor(server);
  const Client = makeGenericClientConstructor(cache.cache_client.UnimplementedScsService.definition as unknown as ServiceDefinition, 'Scs');
  const c = new Client(`127.0.0.1:${server.momentoPort}`, credentials.createInsecure()) as unknown as Record<string, (...a: unknown[]) => any> & { close(): void };
  t.teardown(() => c.close());
  const md = new Metadata(); md.set('authorization', key); md.set('cache', 'chat');
  await new Promise<void>((resolve, reject) => c['Set']!(new cache.cache_client._SetRequest({ cache_key: Buffer.from('big'), cache_body: Buffer.alloc(1024 * 1024, 7), ttl_milliseconds: 60_000 }), md, (e: unknown) => (e ? reject(e) : resolve())));

  // A raw HTTP/2 client that grants no flow-control window: the server can send no answer.
  const session = http2.connect(`http://127.0.0.1:${server.momentoPort}`, { settings: { initialWindowSize: 0 } });
  t.teardown(() => session.destroy());
  const remote = await new Promise<http2.Settings>((resolve) => session.once('remoteSettings', resolve));
  t.comment(`server maxConcurrentStreams: ${remote.maxConcurrentStreams}`);
  const body = new cache.cache_client._GetRequest({ cache_key: Buffer.from('big') }).serialize();
  const framed = Buffer.alloc(5 + body.length); framed.writeUInt32BE(body.length, 1); Buffer.from(body).copy(framed, 5);
  global.gc?.();
  const before = process.memoryUsage().arrayBuffers;
  const N = 400;
  let refused = 0;
  for (let i = 0; i < N; i++) {
    const s = session.request({ ':method': 'POST', ':path': '/cache_client.Scs/Get', 'content-type': 'application/grpc', te: 'trailers', authorization: key, cache: 'chat' });
    s.on('error', () => { refused++; });
    s.end(framed);
  }
  await sleep(3000);
  const grown = (process.memoryUsage().arrayBuffers - before) / 1048576;
  t.comment(`${N} calls opened, ${refused} refused; server arrayBuffers grew by ${grown.toFixed(0)} MiB`);
  t.ok(remote.maxConcurrentStreams !== undefined && remote.maxConcurrentStreams <= 1000, 'the listener advertises a stream limit');
  t.ok(grown < 64, `answers held for one stalled connection stay bounded (grew ${grown.toFixed(0)} MiB)`);
});
