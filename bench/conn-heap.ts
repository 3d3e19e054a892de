/** Where an idle subscribed connection's heap goes: a V8 heap snapshot before and after opening
 * N connections (hello + one subscribe each, a fresh token each), diffed by constructor, with the
 * bytes per connection. The server runs in this process; the clients in a child process.
 *   node --expose-gc --import tsx bench/conn-heap.ts [--connections 2000] [--top 25] */
import { fork } from 'node:child_process';
import { writeHeapSnapshot } from 'node:v8';
import { readFileSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, defaultFeatures } from '../src/index.js';
import { generateSigningKey } from '../src/auth/tokens.js';

const { values } = parseArgs({ options: { connections: { type: 'string', default: '2000' }, top: { type: 'string', default: '25' }, child: { type: 'string' } } });

if (values.child) {
  // Client side: open N connections, each with its own token, hello then subscribe; report, hold.
  const [{ default: WebSocket }, { encodeFrame, decodeFrame, PROTOCOL_VERSIONS, PermissionScopes }, { TokenAuthority }, { resolveConfig }, { systemClock }] = await Promise.all([
    import('ws'), import('../src/protocol/index.js'), import('../src/auth/tokens.js'), import('../src/core/config.js'), import('../src/core/clock.js'),
  ]);
  const [port, key, n] = values.child.split(',') as [string, string, string];
  const authority = new TokenAuthority(resolveConfig({ auth: { signingKeys: [key] } }).auth, [key], systemClock);
  const sockets: InstanceType<typeof WebSocket>[] = [];
  let next = 0;
  const lane = async () => {
    while (next < goal) {
      next++;
      const token = (await authority.mintDisposableToken({ scope: PermissionScopes.topicPublishSubscribe('bench', '*'), expiresInSec: 3600 })).token;
      await new Promise<void>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`, 'tidings.v1');
        ws.binaryType = 'nodebuffer';
        ws.on('open', () => ws.send(encodeFrame({ t: 'hello', id: 1, versions: [...PROTOCOL_VERSIONS], token })));
        ws.on('message', (data: Buffer) => {
          const f = decodeFrame(data);
          if (f['t'] === 'err') reject(new Error(JSON.stringify(f)));
          if (f['t'] === 'ok' && f['id'] === 1) ws.send(encodeFrame({ t: 'sub', id: 2, cache: 'bench', topic: 'cap' }));
          if (f['t'] === 'ok' && f['id'] === 2) resolve();
        });
        ws.on('error', reject);
        sockets.push(ws);
      });
    }
  };
  // Warm-up batch (JIT, pools), closed again, then the measured batch after the parent's snapshot.
  const target = Number(n);
  let goal = Math.min(500, target);
  const run = async (count: number) => { goal = next + count; await Promise.all(Array.from({ length: 50 }, lane)); };
  await run(Math.min(500, target));
  for (const s of sockets.splice(0)) s.close();
  process.send!('warm');
  process.on('message', async (m) => {
    if (m === 'open') { await run(target); process.send!('ready'); return; }
    for (const s of sockets) s.terminate();
    process.exit(0);
  });
} else {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  const signingKey = generateSigningKey();
  const unlimited = 10_000_000;
  const server = await createServer({ config: {
    logLevel: 'warn',
    server: { host: '127.0.0.1', port: 0, maxPendingHellos: unlimited, maxPendingHellosPerIp: unlimited, maxConnectionsPerIp: unlimited },
    limits: { maxConnectionsPerTokenId: unlimited },
    auth: { signingKeys: [signingKey] },
  } }, defaultFeatures());
  const n = Number(values.connections);
  // Both snapshots are written before either is read, so the analysis itself is not in them.
  const take = (): string => { gc(); gc(); return writeHeapSnapshot(join(tmpdir(), `conn-heap-${process.pid}-${Date.now()}.heapsnapshot`)); };
  const summarize = (file: string): Map<string, { count: number; bytes: number }> => {
    const snap = JSON.parse(readFileSync(file, 'utf8')) as { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[]; strings: string[] };
    rmSync(file);
    const f = snap.snapshot.meta.node_fields;
    const width = f.length;
    const [iType, iName, iSize] = [f.indexOf('type'), f.indexOf('name'), f.indexOf('self_size')];
    const types = snap.snapshot.meta.node_types[0];
    const by = new Map<string, { count: number; bytes: number }>();
    for (let i = 0; i < snap.nodes.length; i += width) {
      const type = types[snap.nodes[i + iType]!]!;
      const raw = snap.strings[snap.nodes[i + iName]!]!;
      // Arrays and hidden objects are named by role ("(object properties)", "(internal array)"); a
      // string by its first characters, so a per-connection copy of the same text shows up.
      const name = type === 'object' || type === 'closure' || type === 'native' ? raw
        : type === 'string' || type === 'concatenated string' ? `(${type}) ${JSON.stringify(raw.slice(0, 16))}` : `(${type}) ${raw.slice(0, 40)}`;
      const key = `${type === 'closure' ? 'closure ' : ''}${name}`.slice(0, 60);
      const size = snap.nodes[i + iSize]!;
      const e = by.get(key) ?? { count: 0, bytes: 0 };
      e.count++; e.bytes += size;
      by.set(key, e);
      // Per-connection strings each have their own text (ids, token claims), so by name they fall
      // below the listing's threshold; their total by type shows them.
      if (type === 'string' || type === 'concatenated string' || type === 'sliced string') {
        const t = by.get(`[all ${type}s]`) ?? { count: 0, bytes: 0 };
        t.count++; t.bytes += size;
        by.set(`[all ${type}s]`, t);
      }
    }
    return by;
  };
  const child = fork(new URL(import.meta.url).pathname, ['--child', `${server.port},${signingKey},${n}`], { execArgv: ['--import', 'tsx'] });
  await new Promise((r) => child.once('message', r)); // warm
  await new Promise((r) => setTimeout(r, 500));
  const beforeFile = take();
  const ready = new Promise((r) => child.once('message', r));
  child.send('open');
  await ready;
  await new Promise((r) => setTimeout(r, 500));
  const afterFile = take();
  const before = summarize(beforeFile);
  const after = summarize(afterFile);
  let rows = [...after].map(([k, a]) => {
    const b = before.get(k) ?? { count: 0, bytes: 0 };
    return { k, count: (a.count - b.count) / n, bytes: (a.bytes - b.bytes) / n };
  });
  // Over every name, so strings that differ per connection count too ("[all …]" rows restate them).
  const total = rows.filter((r) => !r.k.startsWith('[')).reduce((s, r) => s + r.bytes, 0);
  rows = rows.filter((r) => Math.abs(r.bytes) >= 1).sort((x, y) => y.bytes - x.bytes);
  console.log(`heap per connection (${n} connections, snapshot diff): ${total.toFixed(0)} B`);
  for (const r of rows.slice(0, Number(values.top))) console.log(`${r.bytes.toFixed(1).padStart(8)} B  ${r.count.toFixed(2).padStart(6)} objs  ${r.k}`);
  child.send('stop');
  await new Promise((r) => child.once('exit', r));
  await server.close();
}
