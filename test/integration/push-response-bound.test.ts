/** A push endpoint (a URL any token holder chooses) cannot make the server buffer its answer: the
 * body of a push service's or webhook receiver's response is read up to 64 KiB, then cancelled. */
import t from 'tap';
import webpush from 'web-push';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';
import { browserSubscription } from '../helpers/push-service.js';
import { PermissionScopes } from '../../src/index.js';

const CACHE = 'chat';
const scope = PermissionScopes.topicPublishSubscribe(CACHE, '*');

t.test('a push endpoint cannot make the server buffer an unbounded answer', async (t) => {
  const vapid = webpush.generateVAPIDKeys();
  const server = await startServer(t, {
    config: {
      presence: { leaveGraceMs: 0 },
      push: { vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey, allowInsecureEndpoints: true, allowPrivateEndpoints: true, timeoutMs: 600_000 },
    },
  });
  const chunk = Buffer.alloc(1 << 20, 120);
  let streamed = 0;
  let answersClosed = 0;
  const evil = createServer((req, res) => {
    res.on('close', () => { answersClosed++; });
    req.resume();
    req.on('end', () => {
      res.writeHead(201, { 'content-type': 'application/octet-stream' });
      const pumpOut = () => { while (!res.destroyed) { streamed += chunk.length; if (!res.write(chunk)) { res.once('drain', pumpOut); return; } } };
      pumpOut();
    });
  });
  await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => { evil.closeAllConnections(); evil.close(() => r()); }));
  const url = `http://127.0.0.1:${(evil.address() as AddressInfo).port}`;

  const m = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'mallory' }));
  await m.ok({ t: 'pushRegister', subscription: browserSubscription(`${url}/p`).json });
  await m.ok({ t: 'follow', cache: CACHE, topic: 'room' });
  m.close();
  await new Promise((r) => setTimeout(r, 100));
  global.gc?.();
  const base = process.memoryUsage().arrayBuffers;
  let peak = base;
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().arrayBuffers); }, 20);
  const pub = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'hank' }));
  await pub.ok({ t: 'pub', cache: CACHE, topic: 'room', value: 'hi' });
  // The server is done with the answer once it drops it: cut after 64 KiB (push.timeoutMs is ten minutes off).
  await waitFor('the server to drop the endless answer', () => answersClosed > 0, 15_000);
  clearInterval(sampler);
  const grewMb = Math.round((peak - base) / 2 ** 20);
  t.comment(`endpoint streamed ${Math.round(streamed / 2 ** 20)} MiB; server ArrayBuffer memory grew by ${grewMb} MiB`);
  t.ok(grewMb < 32, `server buffered at most a bounded answer; grew by ${grewMb} MiB`);
  pub.close();
});
