/** GetBatch waits for the client to read (at most momento.maxStreamBufferBytes unsent): one small
 * request naming a 1 MiB item 300 times, from a client that stops reading, holds a bounded amount
 * of server memory, not 300 MiB. */
import t from 'tap';
import { cache } from '@gomomento/generated-types';
import { Metadata, credentials, makeGenericClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { apiKeyFor, startMomentoServer } from '../helpers/momento.js';
import { requireRedis } from '../helpers/redis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('GetBatch of one 1 MiB key x 300, client not reading: server memory stays bounded', async (t) => {
  // Redis hands out a new buffer per read (the memory store shares one): each answer costs memory.
  if (!requireRedis(t)) return;
  const server = await startMomentoServer(t, { engine: 'redis' });
  const key = await apiKeyFor(server);
  const Client = makeGenericClientConstructor(cache.cache_client.UnimplementedScsService.definition as unknown as ServiceDefinition, 'Scs');
  const c = new Client(`127.0.0.1:${server.momentoPort}`, credentials.createInsecure()) as unknown as Record<string, (...a: unknown[]) => any> & { close(): void };
  t.teardown(() => c.close());
  const md = new Metadata(); md.set('authorization', key); md.set('cache', 'chat');
  const value = Buffer.alloc(1024 * 1024, 7);
  await new Promise<void>((resolve, reject) => c['Set']!(new cache.cache_client._SetRequest({ cache_key: Buffer.from('big'), cache_body: value, ttl_milliseconds: 60_000 }), md, (e: unknown) => (e ? reject(e) : resolve())));
  global.gc?.();
  const before = process.memoryUsage().arrayBuffers;
  const N = 300;
  const items = Array.from({ length: N }, () => new cache.cache_client._GetRequest({ cache_key: Buffer.from('big') }));
  const call = c['GetBatch']!(new cache.cache_client._GetBatchRequest({ items }), md);
  call.on('error', () => {});
  let got = 0;
  call.on('data', () => { got++; call.pause(); }); // a client that stops reading after the first answer
  await sleep(6000);
  const grown = (process.memoryUsage().arrayBuffers - before) / 1024 / 1024;
  t.comment(`answers read: ${got}; arrayBuffers grew by ${grown.toFixed(0)} MiB`);
  t.ok(grown < 64, `server queues at most a bounded amount for a stalled batch (grew ${grown.toFixed(0)} MiB)`);
  call.cancel();
});
