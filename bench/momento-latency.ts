/** Publish→subscribe latency through the gRPC path (official @gomomento/sdk) vs the WebSocket path
 * (tidings/client), against one Tidings server process on 127.0.0.1. Sequential: one message in
 * flight, so this is per-message latency (client encode + server + fan-out + client decode), not
 * throughput. Publisher and subscriber live in this process, so one clock times both ends.
 *
 *   node --import tsx bench/momento-latency.ts [--messages 2000] [--warmup 200]
 *
 * The Node SDK ends its subscribe stream ~5 s after it starts (its deadline covers the stream) and
 * resubscribes with a resume position; messages that wait for that show up in p99/max of the gRPC
 * path. That is the SDK's behaviour with any server, so it is reported, not hidden. */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import {
  CredentialProvider, NoopMomentoLoggerFactory, TopicClient as MomentoTopicClient, TopicConfigurations,
} from '@gomomento/sdk';
import { connect, type WebSocketConstructor } from '../src/client/index.js';
import { PermissionScopes, TokenAuthority, encodeMomentoCredential, generateSigningKey, resolveConfig, systemClock } from '../src/index.js';
import { spawnServer } from './lib/proc.js';
import { summarizeLatency } from './lib/stats.js';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '2000' }, warmup: { type: 'string', default: '200' } } });
const MESSAGES = Number(values.messages);
const WARMUP = Number(values.warmup);
const PER_MESSAGE_TIMEOUT_MS = 5_000;

interface Path { name: string; publish(text: string): Promise<unknown>; onItem(handler: (text: string) => void): Promise<void>; close(): void }

async function measure(path: Path): Promise<ReturnType<typeof summarizeLatency>> {
  let waiting: { id: string; resolve: () => void } | undefined;
  await path.onItem((text) => { if (waiting && text === waiting.id) waiting.resolve(); });
  const samples = new Float64Array(MESSAGES);
  let count = 0;
  for (let i = 0; i < WARMUP + MESSAGES; i++) {
    const id = `${path.name}-${i}`;
    const start = performance.now();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${path.name}: message ${i} not delivered in ${PER_MESSAGE_TIMEOUT_MS} ms`)), PER_MESSAGE_TIMEOUT_MS);
      waiting = { id, resolve: () => { clearTimeout(timer); resolve(); } };
      void path.publish(id);
    });
    if (i >= WARMUP) samples[count++] = (performance.now() - start) * 1000;
  }
  path.close();
  return summarizeLatency(samples, count);
}

const signingKey = generateSigningKey();
const server = await spawnServer(process.execPath, ['--import', 'tsx', 'bench/targets/servers/tidings-momento-server.ts'], {
  ready: /MOMENTO (\d+)/, env: { ...process.env, BENCH_SIGNING_KEY: signingKey },
});
const wsPort = Number(/READY (\d+)/.exec(server.output())![1]);
const grpcPort = Number(server.match[1]);
const authority = new TokenAuthority(resolveConfig({ dev: true }).auth, [signingKey], systemClock);
const apiKey = (await authority.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null, tokenId: 'bench' })).token;

const webSocket = WebSocket as unknown as WebSocketConstructor;
const wsClient = () => connect({ url: `http://127.0.0.1:${wsPort}`, token: apiKey, webSocket });
const endpoint = `127.0.0.1:${grpcPort}`;
const credentialProvider = CredentialProvider.fromString({
  apiKey: encodeMomentoCredential({ endpoint, apiKey }),
  endpointOverrides: { cacheEndpoint: endpoint, controlEndpoint: endpoint, tokenEndpoint: endpoint, secureConnection: false },
});
const momentoTopics = () => new MomentoTopicClient({ configuration: TopicConfigurations.Default.latest(new NoopMomentoLoggerFactory()), credentialProvider });

function wsPath(): Path {
  const pub = wsClient();
  const sub = wsClient();
  return {
    name: 'websocket (tidings/client)',
    publish: (text) => pub.topics.publish('bench', 'ws', text),
    onItem: async (handler) => { await sub.topics.subscribe('bench', 'ws', { onItem: (item) => handler(item.valueString()) }); },
    close: () => { pub.close(); sub.close(); },
  };
}

function grpcPath(): Path {
  const pub = momentoTopics();
  const sub = momentoTopics();
  let subscription: { unsubscribe(): void } | undefined;
  return {
    name: 'grpc (@gomomento/sdk)',
    publish: (text) => pub.publish('bench', 'grpc', text),
    onItem: async (handler) => {
      const s = await sub.subscribe('bench', 'grpc', { onItem: (item) => handler(item.valueString()) });
      if (!('unsubscribe' in s)) throw new Error(`subscribe failed: ${String(s)}`);
      subscription = s;
    },
    close: () => subscription?.unsubscribe(),
  };
}

const results: Record<string, ReturnType<typeof summarizeLatency>> = {};
try {
  for (const make of [wsPath, grpcPath]) {
    const path = make();
    results[path.name] = await measure(path);
  }
} finally {
  server.child.kill('SIGTERM');
}
const fmt = (us: number) => `${(us / 1000).toFixed(3)} ms`;
process.stdout.write(`publish→subscribe latency, ${MESSAGES} sequential messages after ${WARMUP} warm-up, one server process, 127.0.0.1\n`);
for (const [name, r] of Object.entries(results)) {
  process.stdout.write(`  ${name.padEnd(28)} p50 ${fmt(r.p50)}  p99 ${fmt(r.p99)}  p99.9 ${fmt(r.p999)}  max ${fmt(r.max)}\n`);
}
process.exit(0);
