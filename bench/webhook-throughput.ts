/** Webhook throughput: N items published over one WebSocket to T topics, each becoming an
 * `item.published` POST to one endpoint; the receiver runs in a child process (so it does not share
 * the server's event loop) and answers 200 at once. Reports publishes/s (how fast the publisher got
 * its acks: webhooks must not slow it) and webhook deliveries/s (first publish to last delivery).
 *   node --import tsx bench/webhook-throughput.ts [--items 20000] [--topics 1,64]
 */
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { loadavg, cpus } from 'node:os';
import WebSocket from 'ws';
import { createServer, defaultFeatures, generateSigningKey } from '../src/index.js';
import { decodeFrame, encodeFrame, PermissionScopes, PROTOCOL_VERSIONS } from '../src/protocol/index.js';

const { values } = parseArgs({ options: { items: { type: 'string' }, topics: { type: 'string' } } });
const N = Number(values.items ?? 20_000);
const topicCounts = (values.topics ?? '1,64').split(',').map(Number);

let requestsSeen = 0;

/** A receiver in a child process: prints its port, then "done <ms> <requests>" once it has `n` events. */
async function startReceiver(n: number): Promise<{ url: string; done: Promise<number>; stop(): void }> {
  const code = `
    const http = require('node:http'); let count = 0, requests = 0, reported = false; const n = ${n};
    const s = http.createServer((req, res) => { let body = ''; req.on('data', (c) => body += c); req.on('end', () => {
      res.end(); requests++; count += JSON.parse(body).events.length; if (count >= n && !reported) { reported = true; console.log('done ' + Date.now() + ' ' + requests); } }); });
    s.keepAliveTimeout = 10000; s.listen(0, '127.0.0.1', () => console.log('port ' + s.address().port));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buffer = '';
  let resolvePort!: (p: number) => void;
  let resolveDone!: (t: number) => void;
  const port = new Promise<number>((r) => { resolvePort = r; });
  const done = new Promise<number>((r) => { resolveDone = r; });
  child.stdout.on('data', (d: Buffer) => {
    buffer += d.toString();
    for (const line of buffer.split('\n').slice(0, -1)) {
      const [k, v] = line.split(' ');
      if (k === 'port') resolvePort(Number(v)); else if (k === 'done') { resolveDone(Number(v)); requestsSeen = Number(line.split(' ')[2]); }
    }
    buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
  });
  return { url: `http://127.0.0.1:${await port}`, done, stop: () => child.kill() };
}

const rows: string[] = [];
for (const T of topicCounts) {
  const receiver = await startReceiver(N);
  const server = await createServer({
    config: {
      logLevel: 'silent', server: { port: 0 }, auth: { signingKeys: [generateSigningKey()] },
      // One publisher as fast as it can: lift the rate limits that protect a real deployment.
      limits: { connectionOpsPerSec: 10_000_000, connectionOpsBurst: 10_000_000, tokenIdOpsPerSec: 10_000_000, tokenIdOpsBurst: 10_000_000 },
      webhooks: { queueSize: N, maxInFlight: 8, endpoints: [{ name: 'bench', url: receiver.url, secret: 'bench-secret-0123456789', cache: 'bench', topicPrefix: '', events: ['item.published'] }] },
    },
  }, defaultFeatures());
  const token = (await server.auth.mintDisposableToken({ scope: PermissionScopes.topicPublishOnly('bench', '*'), expiresInSec: 600 })).token;
  const ws = new WebSocket(server.wsUrl);
  await new Promise((r) => ws.once('open', r));
  let acks = 0;
  let resolveAcks!: () => void;
  const allAcked = new Promise<void>((r) => { resolveAcks = r; });
  ws.on('message', (d: Buffer) => { const f = decodeFrame(new Uint8Array(d)); if (f['t'] === 'ok' && (f['id'] as number) > 1 && ++acks === N) resolveAcks(); });
  ws.send(encodeFrame({ t: 'hello', id: 1, versions: [...PROTOCOL_VERSIONS], token }));
  await new Promise((r) => setTimeout(r, 100));
  const value = 'x'.repeat(100);
  const t0 = Date.now();
  // Windows of 200 requests in flight (the server allows 256 per connection).
  for (let i = 0; i < N; i += 200) {
    const target = Math.min(N, i + 200);
    for (let j = i; j < target; j++) ws.send(encodeFrame({ t: 'pub', id: j + 2, cache: 'bench', topic: `t${j % T}`, value }));
    while (acks < target) await new Promise((r) => setImmediate(r));
  }
  await allAcked;
  const published = Date.now();
  const delivered = await receiver.done;
  rows.push(`| ${T} | ${N.toLocaleString('en-US')} | ${Math.round(N / ((published - t0) / 1000)).toLocaleString('en-US')} | ${Math.round(N / ((delivered - t0) / 1000)).toLocaleString('en-US')} | ${requestsSeen.toLocaleString('en-US')} | ${Math.max(0, delivered - published)} |`);
  ws.close();
  await server.close();
  receiver.stop();
}
process.stdout.write([
  `Webhook throughput, ${N} items of 100 bytes, one endpoint (maxInFlight 8), receiver in a child process, loopback. Load average ${loadavg().map((l) => l.toFixed(1)).join(', ')} on ${cpus().length} cores.`, '',
  '| topics | items | publishes/s (acked) | webhook events delivered/s | POST requests | ms from last ack to last delivery |', '|---:|---:|---:|---:|---:|---:|', ...rows,
].join('\n') + '\n');
