/** WebSocket vs Server-Sent Events vs long-poll delivery, and HTTP publish vs WebSocket publish,
 * side by side against one `tidings serve` process on 127.0.0.1.
 *
 * Delivery: one phase per transport with only that transport's subscribers connected (so the
 * server's CPU during the phase is theirs): a WebSocket publisher sends `--messages` items at a
 * fixed `--rate` to one topic; each subscriber timestamps each item. Reported: publish -> deliver
 * latency (p50 / p99 / max, every delivery) and server CPU per delivery (from /proc).
 * Publish: sequential publishes over WebSocket (request, wait for the reply) and over HTTP
 * (`POST /v1/topics/…`, keep-alive), each with one WebSocket subscriber: publish round trip and
 * publish -> deliver latency, server CPU per publish.
 *
 * Bounded: fixed message counts, 127.0.0.1 only, the server process is always stopped.
 * `node --import tsx bench/http-transports.ts [--subscribers 20] [--messages 500] [--rate 200] [--publishes 1000]` */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { PermissionScopes } from '../src/protocol/index.js';
import { TokenAuthority, generateSigningKey } from '../src/auth/tokens.js';
import { DEFAULTS } from '../src/core/config.js';
import { systemClock } from '../src/core/clock.js';
import { BenchSocket } from './lib/bench-socket.js';
import { cpuMs, freePort, spawnServer, stopProcess } from './lib/proc.js';
import { percentileSorted } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CACHE = 'bench';

interface Row { name: string; deliveries: number; expected: number; p50Ms: number; p99Ms: number; maxMs: number; serverCpuUsPerDelivery: number }

/** The wall-clock time each message was sent, by index (shared across receivers). */
type SentAt = Float64Array;

/** A delivery sink: the message index is the value's text. */
function recorder(sentAt: SentAt, latencies: number[]) {
  return (value: unknown) => {
    const i = Number(value);
    const t0 = sentAt[i];
    if (t0 !== undefined && !Number.isNaN(t0)) latencies.push(performance.now() - t0);
  };
}

async function sseSubscriber(base: string, token: string, topic: string, onValue: (v: unknown) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch(`${base}/v1/sse?cache=${CACHE}&topic=${topic}`, { headers: { authorization: `Bearer ${token}` }, signal });
  if (!res.ok) throw new Error(`sse ${res.status}`);
  const ready = new Promise<void>((resolve) => {
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            if (block.includes('event: ready')) resolve();
            else if (!block.includes('event:') && block.includes('data: ')) onValue(JSON.parse(block.slice(block.indexOf('data: ') + 6)).value);
          }
        }
      } catch { /* aborted */ }
    })();
  });
  await ready;
}

/** Polls in a loop (starting from the topic's current position) until `signal` aborts. */
async function pollSubscriber(base: string, token: string, topic: string, onValue: (v: unknown) => void, signal: AbortSignal): Promise<void> {
  const get = async (cursor: string, waitMs: number) => {
    const res = await fetch(`${base}/v1/poll?cache=${CACHE}&topic=${topic}&waitMs=${waitMs}${cursor ? `&cursor=${cursor}` : ''}`, { headers: { authorization: `Bearer ${token}` }, signal });
    return (await res.json()) as { cursor: string; events: Array<{ type: string; value: unknown }> };
  };
  let { cursor } = await get('', 0);
  void (async () => {
    try {
      for (;;) {
        const answer = await get(cursor, 25_000);
        for (const e of answer.events) if (e.type === 'item') onValue(e.value);
        cursor = answer.cursor;
      }
    } catch { /* aborted */ }
  })();
}

async function wsSubscriber(url: string, token: string, topic: string, onValue: (v: unknown) => void): Promise<BenchSocket> {
  const s = await BenchSocket.open(url, token);
  s.onPush = (f) => { if (f['t'] === 'item') onValue(f['value']); };
  await s.request({ t: 'sub', cache: CACHE, topic });
  return s;
}

function summarize(name: string, latencies: number[], expected: number, cpuDeltaMs: number): Row {
  latencies.sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return {
    name, deliveries: latencies.length, expected,
    p50Ms: r(percentileSorted(latencies, 0.5)), p99Ms: r(percentileSorted(latencies, 0.99)), maxMs: r(latencies.at(-1) ?? NaN),
    serverCpuUsPerDelivery: Math.round((cpuDeltaMs * 1000) / Math.max(1, latencies.length) * 10) / 10,
  };
}

export async function runHttpTransportsBench(options: { subscribers?: number; messages?: number; rate?: number; publishes?: number; log?: (m: string) => void } = {}) {
  const subscribers = options.subscribers ?? 20;
  const messages = options.messages ?? 500;
  const rate = options.rate ?? 200;
  const publishes = options.publishes ?? 1000;
  const log = options.log ?? (() => {});
  const signingKey = generateSigningKey();
  const port = await freePort();
  const env = { ...process.env, TIDINGS_SIGNING_KEY: signingKey, TIDINGS_LOG_LEVEL: 'warn' };
  const server = await spawnServer(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--port', String(port), '--host', '127.0.0.1'], { ready: { port }, env, cwd: ROOT });
  const base = `http://127.0.0.1:${port}`;
  const url = `ws://127.0.0.1:${port}/v1/ws`;
  const authority = new TokenAuthority(DEFAULTS.auth, [signingKey], systemClock);
  const token = (await authority.mintDisposableToken({ scope: PermissionScopes.topicPublishSubscribe(CACHE, '*'), expiresInSec: 3600, tokenId: 'bench' })).token;
  const delivery: Row[] = [];
  const publish: Row[] = [];
  try {
    const publisher = await BenchSocket.open(url, token);
    for (const transport of ['websocket', 'sse', 'long-poll'] as const) {
      const topic = `t-${transport}`;
      const sentAt: SentAt = new Float64Array(messages).fill(NaN);
      const latencies: number[] = [];
      const onValue = recorder(sentAt, latencies);
      const abort = new AbortController();
      const sockets: BenchSocket[] = [];
      for (let i = 0; i < subscribers; i++) {
        if (transport === 'websocket') sockets.push(await wsSubscriber(url, token, topic, onValue));
        else if (transport === 'sse') await sseSubscriber(base, token, topic, onValue, abort.signal);
        else await pollSubscriber(base, token, topic, onValue, abort.signal);
      }
      await new Promise((r) => setTimeout(r, 200));
      log(`${transport}: ${subscribers} subscribers, ${messages} messages at ${rate}/s`);
      const cpu0 = cpuMs(server.pid);
      const start = performance.now();
      for (let i = 0; i < messages; i++) {
        const wait = start + (i * 1000) / rate - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        sentAt[i] = performance.now();
        publisher.send({ t: 'pub', cache: CACHE, topic, value: String(i) });
      }
      const deadline = performance.now() + 5000;
      while (latencies.length < messages * subscribers && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const cpu1 = cpuMs(server.pid);
      delivery.push(summarize(transport, latencies, messages * subscribers, cpu1 - cpu0));
      abort.abort();
      for (const s of sockets) s.close();
      await new Promise((r) => setTimeout(r, 300));
    }

    for (const via of ['websocket', 'http'] as const) {
      const topic = `p-${via}`;
      const sentAt: SentAt = new Float64Array(publishes).fill(NaN);
      const deliver: number[] = [];
      const roundTrips: number[] = [];
      const sub = await wsSubscriber(url, token, topic, recorder(sentAt, deliver));
      log(`publish over ${via}: ${publishes} sequential publishes`);
      const cpu0 = cpuMs(server.pid);
      for (let i = 0; i < publishes; i++) {
        const t0 = performance.now();
        sentAt[i] = t0;
        if (via === 'websocket') await publisher.request({ t: 'pub', cache: CACHE, topic, value: String(i) });
        else {
          const res = await fetch(`${base}/v1/topics/${CACHE}/${topic}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body: String(i) });
          await res.arrayBuffer();
        }
        roundTrips.push(performance.now() - t0);
      }
      const deadline = performance.now() + 5000;
      while (deliver.length < publishes && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const cpu1 = cpuMs(server.pid);
      const rt = summarize(`${via} publish round trip`, roundTrips, publishes, cpu1 - cpu0);
      publish.push({ ...rt, name: `${via} publish (reply)` });
      publish.push({ ...summarize(`${via} publish -> ws deliver`, deliver, publishes, cpu1 - cpu0), serverCpuUsPerDelivery: rt.serverCpuUsPerDelivery });
      sub.close();
    }
    publisher.close();
  } finally {
    await stopProcess(server.child, 3000);
  }
  return { subscribers, messages, rate, publishes, delivery, publish };
}

function table(rows: Row[], cpuLabel: string): string {
  const head = `| | deliveries | p50 ms | p99 ms | max ms | ${cpuLabel} |\n|---|---|---|---|---|---|\n`;
  return head + rows.map((r) => `| ${r.name} | ${r.deliveries} / ${r.expected} | ${r.p50Ms} | ${r.p99Ms} | ${r.maxMs} | ${r.serverCpuUsPerDelivery} |`).join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { subscribers: { type: 'string' }, messages: { type: 'string' }, rate: { type: 'string' }, publishes: { type: 'string' } } });
  const result = await runHttpTransportsBench({
    log: (m) => process.stderr.write(`[http bench] ${m}\n`),
    ...(values.subscribers ? { subscribers: Number(values.subscribers) } : {}),
    ...(values.messages ? { messages: Number(values.messages) } : {}),
    ...(values.rate ? { rate: Number(values.rate) } : {}),
    ...(values.publishes ? { publishes: Number(values.publishes) } : {}),
  });
  process.stdout.write(`Delivery: ${result.subscribers} subscribers per transport, ${result.messages} messages at ${result.rate}/s (server CPU per delivery)\n\n`);
  process.stdout.write(table(result.delivery, 'server CPU µs / delivery') + '\n\n');
  process.stdout.write(`Publish: ${result.publishes} sequential publishes, one WebSocket subscriber (server CPU per publish)\n\n`);
  process.stdout.write(table(result.publish, 'server CPU µs / publish') + '\n');
}
