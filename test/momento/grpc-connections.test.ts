/** The gRPC listener holds at most momento.maxConnections TCP connections: one past it is closed
 * at once (idle sockets cannot pile up without bound), and a slot freed by a closed connection is
 * taken again by a client whose calls are answered. */
import t from 'tap';
import net from 'node:net';
import { cache } from '@gomomento/generated-types';
import { Metadata, credentials, makeGenericClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { apiKeyFor, startMomentoServer } from '../helpers/momento.js';

/** A raw TCP connection to the listener; `closed` resolves if the server closes it. */
async function connect(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  // An HTTP/2 preface, so a kept connection is answered (its SETTINGS frame): proof it was kept.
  socket.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
  const answered = new Promise<boolean>((resolve) => {
    socket.once('data', () => resolve(true));
    socket.once('close', () => resolve(false));
  });
  return { socket, answered };
}

t.test('a connection past momento.maxConnections is closed; a freed slot is used again', async (t) => {
  const server = await startMomentoServer(t, { config: { momento: { maxConnections: 2 } } });
  const key = await apiKeyFor(server);
  const a = await connect(server.momentoPort!);
  const b = await connect(server.momentoPort!);
  t.teardown(() => { a.socket.destroy(); b.socket.destroy(); });
  t.ok(await a.answered, 'the first connection is served');
  t.ok(await b.answered, 'the second connection is served');
  const c = await connect(server.momentoPort!);
  t.teardown(() => c.socket.destroy());
  t.notOk(await c.answered, 'the third is closed by the server, unanswered');

  a.socket.destroy();
  const Scs = makeGenericClientConstructor(cache.cache_client.UnimplementedScsService.definition as unknown as ServiceDefinition, 'Scs');
  const client = new Scs(`127.0.0.1:${server.momentoPort!}`, credentials.createInsecure()) as unknown as Record<string, (...a: unknown[]) => any> & { close(): void };
  t.teardown(() => client.close());
  const md = new Metadata(); md.set('authorization', key); md.set('cache', 'chat');
  // The freed slot may not be seen as free at once (the close travels to the server): retry a few times.
  let err: unknown = 'not tried';
  for (let i = 0; i < 50 && err !== null; i++) {
    err = await new Promise((resolve) => client['Get']!(new cache.cache_client._GetRequest({ cache_key: Buffer.from('k') }), md, { deadline: Date.now() + 2000 }, resolve));
    if (err !== null) await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(err, null, 'a call through the freed slot is answered');
});
