/** What presence costs per connect. Two parts, bounded (well under a minute on 2 cores):
 *  1. In process, the presence engine alone: add() and remove() per subscriber, and heap bytes per
 *     tracked member, on one big topic and on many small ones.
 *  2. End to end: C connections each `hello` + `sub` to one room, against a server with the
 *     default features and one without presence; wall time per connect+subscribe (client and server
 *     share the machine: read the difference, not the absolute) and server heap per connection.
 *   node --import tsx --expose-gc bench/presence-cost.ts [--connections 2000]
 */
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { MemoryPresence } from '../src/presence/memory-presence.js';
import { systemClock } from '../src/core/clock.js';
import { createServer, defaultFeatures, generateSigningKey, presenceFeature, type TidingsServer } from '../src/index.js';
import { decodeFrame, encodeFrame, PermissionScopes, PROTOCOL_VERSIONS } from '../src/protocol/index.js';

const { values } = parseArgs({ options: { connections: { type: 'string' } } });
const C = Number(values.connections ?? 2000);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const heap = () => { gc(); gc(); return process.memoryUsage().heapUsed; };

function micro(label: string, topics: number, perTopic: number): string {
  const presence = new MemoryPresence({ leaveGraceMs: 0, maxMembersPerTopic: perTopic, maxPendingLeaves: Number.MAX_SAFE_INTEGER, nodeTimeoutMs: 15_000 }, systemClock);
  presence.start(() => {});
  const n = topics * perTopic;
  const before = heap();
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) presence.add('c', `t${i % topics}`, { connectionId: `conn${i}`, tokenId: `user${i}` });
  const addNs = Number(process.hrtime.bigint() - t0) / n;
  const bytes = (heap() - before) / n;
  t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) presence.remove('c', `t${i % topics}`, { connectionId: `conn${i}`, tokenId: `user${i}` });
  const removeNs = Number(process.hrtime.bigint() - t0) / n;
  presence.close();
  // With a grace, each last-connection removal arms a timer: the usual case on a real close.
  const graced = new MemoryPresence({ leaveGraceMs: 60_000, maxMembersPerTopic: perTopic, maxPendingLeaves: Number.MAX_SAFE_INTEGER, nodeTimeoutMs: 15_000 }, systemClock);
  graced.start(() => {});
  for (let i = 0; i < n; i++) graced.add('c', `t${i % topics}`, { connectionId: `conn${i}`, tokenId: `user${i}` });
  t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) graced.remove('c', `t${i % topics}`, { connectionId: `conn${i}`, tokenId: `user${i}` });
  const gracedNs = Number(process.hrtime.bigint() - t0) / n;
  graced.close();
  return `| ${label} | ${n.toLocaleString('en-US')} | ${addNs.toFixed(0)} | ${removeNs.toFixed(0)} | ${gracedNs.toFixed(0)} | ${bytes.toFixed(0)} |`;
}

async function endToEnd(server: TidingsServer, tokens: string[]): Promise<{ msPerConnect: number; heapPerConn: number; sockets: WebSocket[] }> {
  const before = heap();
  const sockets: WebSocket[] = [];
  const t0 = process.hrtime.bigint();
  // 50 at a time: enough concurrency to keep the server busy, few enough not to measure queueing.
  for (let i = 0; i < tokens.length; i += 50) {
    await Promise.all(tokens.slice(i, i + 50).map(async (token) => {
      const ws = new WebSocket(server.wsUrl);
      sockets.push(ws);
      await new Promise((r) => ws.once('open', r));
      let pending = 2;
      const done = new Promise<void>((resolve) => ws.on('message', (d: Buffer) => { if (decodeFrame(new Uint8Array(d))['t'] === 'ok' && --pending === 0) resolve(); }));
      ws.send(encodeFrame({ t: 'hello', id: 1, versions: [...PROTOCOL_VERSIONS], token }));
      ws.send(encodeFrame({ t: 'sub', id: 2, cache: 'bench', topic: 'room', presence: false }));
      await done;
    }));
  }
  const msPerConnect = Number(process.hrtime.bigint() - t0) / 1e6 / tokens.length;
  return { msPerConnect, heapPerConn: (heap() - before) / tokens.length, sockets };
}

/** The same number of plain Map.set calls, measured in the same run: on a loaded machine the
 * absolute numbers drift, the ratio to this baseline much less. */
function baseline(): string {
  const m = new Map<string, { connections: number }>();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 100_000; i++) m.set(`user${i}`, { connections: 1 });
  const ns = Number(process.hrtime.bigint() - t0) / 100_000;
  return `| baseline: plain Map.set of the same keys | 100,000 | ${ns.toFixed(0)} | | | |`;
}

const out: string[] = [`Load average at start: ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(', ')} on ${(await import('node:os')).cpus().length} cores.`, '', 'Presence engine alone (ns per call, heap bytes per tracked member):', '',
  '| shape | subscribers | add ns | remove ns (no grace) | remove ns (grace timer) | bytes/member |', '|---|---:|---:|---:|---:|---:|'];
out.push(baseline());
out.push(micro('1 topic, all members', 1, 100_000));
out.push(micro('10,000 topics × 10', 10_000, 10));
out.push('');

// All load comes from one address: lift the per-IP and rate limits that protect a real deployment.
const unlimited = 10_000_000;
const config = {
  logLevel: 'silent' as const, auth: { signingKeys: [generateSigningKey()] }, presence: { maxMembersPerTopic: C },
  server: { port: 0, maxPendingHellos: unlimited, maxPendingHellosPerIp: unlimited, maxConnectionsPerIp: unlimited },
  limits: { maxConnectionsPerTokenId: unlimited, connectionOpsPerSec: unlimited, connectionOpsBurst: unlimited, tokenIdOpsPerSec: unlimited, tokenIdOpsBurst: unlimited },
};
const rows: string[] = [];
for (const [label, features] of [['without presence', defaultFeatures().filter((f) => f !== presenceFeature)], ['with presence', defaultFeatures()]] as const) {
  const server = await createServer({ config }, [...features]);
  const tokens = await Promise.all(Array.from({ length: C }, async (_, i) => (await server.auth.mintDisposableToken({ scope: PermissionScopes.topicSubscribeOnly('bench', 'room'), expiresInSec: 600, tokenId: `u${i}` })).token));
  const r = await endToEnd(server, tokens);
  rows.push(`| ${label} | ${C} | ${r.msPerConnect.toFixed(3)} | ${(r.heapPerConn / 1024).toFixed(2)} |`);
  for (const ws of r.sockets) ws.terminate();
  await server.close();
}
out.push(`End to end, ${C} connections × (hello + sub), one room, client in the same process:`, '',
  '| server | connections | ms per connect+sub (wall) | heap KiB per connection (client + server) |', '|---|---:|---:|---:|', ...rows);
process.stdout.write(out.join('\n') + '\n');
