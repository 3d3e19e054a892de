/** GetBatch waits for the client to read (at most momento.maxStreamBufferBytes unsent): one small
 * request naming a 1 MiB item 300 times, from a client that stops reading, holds a bounded amount
 * of server memory, not 300 MiB. The server's progress is its reads of the item from a Redis of
 * the test's own: the test waits until they stop (a stalled batch) or all 300 are done. */
import t from 'tap';
import { cache } from '@gomomento/generated-types';
import { Metadata, credentials, makeGenericClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { apiKeyFor, startMomentoServer } from '../helpers/momento.js';
import { Redis } from 'ioredis';
import { requireRedis, startRedis } from '../helpers/redis.js';

t.test('GetBatch of one 1 MiB key x 300, client not reading: server memory stays bounded', async (t) => {
  // Redis hands out a new buffer per read (the memory store shares one): each answer costs memory.
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const server = await startMomentoServer(t, { engine: 'redis', redisUrl: redis.url });
  const admin = new Redis(redis.url);
  t.teardown(() => admin.disconnect());
  // Commands Redis ran (but INFO): the batch's reads of the item, a few per item answered.
  const commands = async () => [...(await admin.info('commandstats')).matchAll(/^cmdstat_(?!info\b)[^:]+:calls=(\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  const key = await apiKeyFor(server);
  const Client = makeGenericClientConstructor(cache.cache_client.UnimplementedScsService.definition as unknown as ServiceDefinition, 'Scs');
  const c = new Client(`127.0.0.1:${server.momentoPort}`, credentials.createInsecure()) as unknown as Record<string, (...a: unknown[]) => any> & { close(): void };
  t.teardown(() => c.close());
  const md = new Metadata(); md.set('authorization', key); md.set('cache', 'chat');
  const value = Buffer.alloc(1024 * 1024, 7);
  await new Promise<void>((resolve, reject) => c['Set']!(new cache.cache_client._SetRequest({ cache_key: Buffer.from('big'), cache_body: value, ttl_milliseconds: 60_000 }), md, (e: unknown) => (e ? reject(e) : resolve())));
  global.gc?.();
  const before = process.memoryUsage().arrayBuffers;
  const commandsBefore = await commands();
  const N = 300;
  const items = Array.from({ length: N }, () => new cache.cache_client._GetRequest({ cache_key: Buffer.from('big') }));
  const call = c['GetBatch']!(new cache.cache_client._GetBatchRequest({ items }), md);
  call.on('error', () => {});
  let got = 0;
  call.on('data', () => { got++; call.pause(); }); // a client that stops reading after the first answer
  // Until the server stops reading (no command for a second: the batch waits for the client, or a
  // server that does not wait has read every item), at most 20 s.
  let reads = 0;
  const deadline = Date.now() + 20_000;
  for (let still = 0; still < 10 && Date.now() < deadline;) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await commands() - commandsBefore;
    still = now === reads ? still + 1 : 0;
    reads = now;
  }
  const grown = (process.memoryUsage().arrayBuffers - before) / 1024 / 1024;
  t.comment(`answers read: ${got}; Redis commands meanwhile: ${reads}; arrayBuffers grew by ${grown.toFixed(0)} MiB`);
  t.ok(grown < 64, `server queues at most a bounded amount for a stalled batch (grew ${grown.toFixed(0)} MiB)`);
  call.cancel();
});
