/** Load-generator process: holds subscriber connections and one publisher for one target, runs
 * timed phases and measures them (its own CPU, the server's CPU from /proc, delivery latency).
 * Started by LoadGen (loadgen-handle.ts), pinned to its own core, driven over IPC. */
import { TARGETS } from '../targets/index.js';
import type { ClientAdapter, ClientConn, TargetInfo } from '../targets/types.js';
import { resolveConfig } from '../../src/core/config.js';
import { systemClock } from '../../src/core/clock.js';
import { TokenAuthority } from '../../src/auth/tokens.js';
import { PermissionScopes } from '../../src/protocol/index.js';
import { BENCH_CACHE } from '../targets/tidings.js';
import { chunkNowUs, nowUs, sleep } from './clock.js';
import { makePayload, readStamp, stampPayload } from './payload.js';
import { coreTimes, cpuMs } from './proc.js';
import { summarizeLatency } from './stats.js';
import {
  topicsFor, type BurstCommand, type Command, type CounterResult, type OpenCommand, type OpenResult, type PhaseResult, type PhaseSpec, type Reply,
} from './loadgen-protocol.js';

const MAX_LATENCY_SAMPLES = 2_000_000;

class Generator {
  private adapter: ClientAdapter | undefined;
  private info: TargetInfo | undefined;
  private serverPid = 0;
  private extraPids: number[] = [];
  private serverCore = -1;
  private genCore = -1;
  private authority: TokenAuthority | undefined;
  private sharedToken: string | undefined;
  private readonly conns: ClientConn[] = [];
  private perConnCounts: number[] = [];
  private publisher: ClientConn | undefined;
  private closing = false;

  received = 0;
  private closedUnexpectedly = 0;
  private lastCloseReason: string | undefined;
  private readonly latency = new Float64Array(MAX_LATENCY_SAMPLES);
  private latencyCount = 0;
  private lastItemUs = 0;
  /** Set while a max-mode phase runs: called (once per socket chunk) after deliveries arrive. */
  private pump: (() => void) | undefined;
  private pumpQueued = false;

  private readonly untimed = {
    onItem: () => { this.received++; this.afterItem(); },
    onClose: (reason: string) => this.onClose(reason),
  };
  private readonly timed = {
    onItem: (buf: Buffer, start: number, end: number) => {
      this.received++;
      const sent = readStamp(buf, start, end);
      if (sent > 0 && this.latencyCount < MAX_LATENCY_SAMPLES) this.latency[this.latencyCount++] = chunkNowUs() - sent;
      this.afterItem();
    },
    onClose: (reason: string) => this.onClose(reason),
  };

  private afterItem(): void {
    this.lastItemUs = chunkNowUs();
    if (this.pump && !this.pumpQueued) {
      this.pumpQueued = true;
      queueMicrotask(this.runPump);
    }
  }
  private readonly runPump = () => { this.pumpQueued = false; this.pump?.(); };

  private onClose(reason: string): void {
    if (this.closing) return;
    this.closedUnexpectedly++;
    this.lastCloseReason = reason;
  }

  /** CPU of the server process(es), ms: every node and redis-server of a cluster run, summed. */
  private serverCpuMs(): number {
    let sum = cpuMs(this.serverPid);
    for (const pid of this.extraPids) sum += cpuMs(pid);
    return sum;
  }

  async init(target: string, info: TargetInfo, serverPid: number, serverCore: number, genCore: number, extraPids: number[] = []): Promise<void> {
    this.extraPids = extraPids;
    this.serverCore = serverCore;
    this.genCore = genCore;
    const t = TARGETS.find((x) => x.name === target);
    if (!t) throw new Error(`unknown target ${target}`);
    this.adapter = t.client;
    this.info = info;
    this.serverPid = serverPid;
    if (info.signingKey) {
      this.authority = new TokenAuthority(resolveConfig({ auth: { signingKeys: [info.signingKey] } }).auth, [info.signingKey], systemClock);
      this.sharedToken = await this.mint();
    }
  }

  private async mint(): Promise<string> {
    const minted = await this.authority!.mintDisposableToken({ scope: PermissionScopes.topicPublishSubscribe(BENCH_CACHE, '*'), expiresInSec: 3600 });
    return minted.token;
  }

  async open(cmd: OpenCommand): Promise<OpenResult> {
    const adapter = this.adapter!;
    const info = this.info!;
    const mintStart = nowUs();
    const tokens: (string | undefined)[] = [];
    for (let i = 0; i < cmd.count; i++) tokens.push(this.authority && cmd.distinctTokens ? await this.mint() : this.sharedToken);
    const tokenMintMs = (nowUs() - mintStart) / 1000;
    let next = 0;
    let opened = 0;
    let failed = 0;
    let firstError: string | undefined;
    const t0 = nowUs();
    const lane = async () => {
      while (next < cmd.count) {
        const local = next++;
        const index = cmd.firstIndex + local;
        const shared = index % cmd.timedStride === 0 ? this.timed : this.untimed;
        let hooks = shared;
        if (cmd.countPerConn) {
          const slot = this.perConnCounts.push(0) - 1;
          const counts = this.perConnCounts;
          hooks = { onItem: (b: Buffer, s: number, e: number) => { counts[slot]!++; shared.onItem(b, s, e); }, onClose: shared.onClose };
        }
        const token = tokens[local];
        const node = info.ports ? { ...info, port: info.ports[index % info.ports.length]! } : info;
        const conn = adapter.connect(node, { topics: topicsFor(cmd.plan, index), ...(token !== undefined ? { token } : {}), ...(cmd.single ? { single: true } : {}) }, hooks);
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([conn.ready, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('connect timed out')), cmd.timeoutMs); })]);
          this.conns.push(conn);
          opened++;
        } catch (err) {
          failed++;
          firstError ??= (err as Error).message;
          conn.close();
        } finally {
          clearTimeout(timer);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(cmd.concurrency, cmd.count) }, lane));
    return { opened, failed, elapsedMs: (nowUs() - t0) / 1000, tokenMintMs, ...(firstError ? { firstError } : {}) };
  }

  async openPublisher(single: boolean): Promise<void> {
    const conn = this.adapter!.connect(this.info!, { topics: [], ...(this.sharedToken ? { token: this.sharedToken } : {}), ...(single ? { single: true } : {}) }, this.untimed);
    await conn.ready;
    this.publisher = conn;
  }

  reset(): void {
    this.received = 0;
    this.perConnCounts.fill(0);
    this.latencyCount = 0;
    this.closedUnexpectedly = 0;
    this.lastCloseReason = undefined;
  }

  async phase(spec: PhaseSpec): Promise<PhaseResult> {
    const pub = this.publisher;
    if (!pub) throw new Error('no publisher');
    this.reset();
    const payload = makePayload(spec.payloadBytes);
    const topics = spec.topics;
    let published = 0;
    let topicIndex = 0;
    const publishOne = () => {
      pub.publish(topics[topicIndex]!, stampPayload(payload));
      if (++topicIndex === topics.length) topicIndex = 0;
      published++;
    };
    const srv0 = this.serverCpuMs();
    const core0 = coreTimes(this.serverCore);
    const genCore0 = coreTimes(this.genCore);
    const gen0 = process.cpuUsage();
    const t0 = nowUs();
    const end = t0 + spec.durationMs * 1000;
    this.lastItemUs = t0;

    await new Promise<void>((resolve) => {
      let finished = false;
      const finish = () => { if (finished) return; finished = true; clearInterval(tick); this.pump = undefined; resolve(); };
      const single = spec.publisher === 'single';
      const burst = (n: number) => {
        if (n <= 0) return;
        if (single) { for (let i = 0; i < n; i++) publishOne(); return; } // one write each
        pub.cork();
        for (let i = 0; i < n; i++) publishOne();
        pub.uncork();
      };
      let tick: NodeJS.Timeout;
      if (spec.mode === 'rate') {
        tick = setInterval(() => {
          const now = nowUs();
          if (now >= end || published >= spec.maxMessages) return finish();
          const due = Math.min(spec.maxMessages, Math.floor(((now - t0) * spec.rate) / 1e6) + 1);
          burst(due - published);
        }, 1);
      } else {
        // Batched: publish in fixed batches of half the window, each batch one write, so the
        // server reads a predictable number of requests per wake-up and runs compare. Single:
        // top the window up one message (one write) at a time, as an application would.
        const batch = single ? 1 : Math.max(1, Math.ceil(spec.window / 2));
        const pump = () => {
          if (nowUs() >= end || published >= spec.maxMessages) return finish();
          while (spec.window - (published - Math.floor(this.received / spec.fanout)) >= batch && published < spec.maxMessages) {
            burst(Math.min(batch, spec.maxMessages - published));
          }
        };
        this.pump = pump;
        tick = setInterval(pump, 1);
        pump();
      }
    });
    const tPubEnd = nowUs();
    const genPub = process.cpuUsage(gen0);
    const srvPub = this.serverCpuMs();
    const corePub = coreTimes(this.serverCore);
    const genCorePub = coreTimes(this.genCore);

    // Drain: wait for every delivery, or until nothing has arrived for drainMs.
    const expected = published * spec.fanout;
    let lastProgress = nowUs();
    let lastReceived = this.received;
    while (this.received < expected) {
      await sleep(2);
      const now = nowUs();
      if (this.received !== lastReceived) { lastReceived = this.received; lastProgress = now; }
      else if (now - lastProgress > spec.drainMs * 1000) break;
    }
    const lastDeliveryUs = this.lastItemUs;
    const srv1 = this.serverCpuMs();
    const wallUs = Math.max(1, lastDeliveryUs - t0);
    const pubUs = Math.max(1, tPubEnd - t0);
    const serverCpuMs = srv1 - srv0;
    return {
      mode: spec.mode,
      published,
      expected,
      received: this.received,
      lost: Math.max(0, expected - this.received),
      wallMs: wallUs / 1000,
      deliveriesPerSec: (this.received * 1e6) / wallUs,
      publishedPerSec: (published * 1e6) / pubUs,
      serverCpuMs,
      serverCpuUsPerDelivery: this.received > 0 ? (serverCpuMs * 1000) / this.received : NaN,
      serverCpuPct: ((srvPub - srv0) * 1000 * 100) / pubUs,
      genCpuPct: ((genPub.user + genPub.system) * 100) / pubUs,
      serverCoreBusyPct: ((corePub.busyMs - core0.busyMs) * 1000 * 100) / pubUs,
      serverCoreSoftirqPct: ((corePub.softirqMs - core0.softirqMs) * 1000 * 100) / pubUs,
      // A process's stime already holds the softirq work done in its own context, so what is busy
      // beyond the process is other work (other processes, ksoftirqd, interrupts).
      serverCoreForeignPct: Math.max(0, ((corePub.busyMs - core0.busyMs - (srvPub - srv0)) * 1000 * 100) / pubUs),
      genCoreForeignPct: Math.max(0, ((genCorePub.busyMs - genCore0.busyMs) * 1000 * 100 - (genPub.user + genPub.system) * 100) / pubUs),
      latency: summarizeLatency(this.latency, this.latencyCount),
      closedUnexpectedly: this.closedUnexpectedly,
      ...(this.lastCloseReason ? { lastCloseReason: this.lastCloseReason } : {}),
    };
  }

  async burst(cmd: BurstCommand): Promise<void> {
    const pub = this.publisher;
    if (!pub) throw new Error('no publisher');
    const payload = makePayload(cmd.payloadBytes);
    for (let i = 0; i < cmd.count; i++) {
      pub.publish(cmd.topic, stampPayload(payload));
      if (cmd.gapMs > 0) await sleep(cmd.gapMs);
    }
  }

  counter(minPerConn: number | undefined): CounterResult {
    return {
      received: this.received,
      closedUnexpectedly: this.closedUnexpectedly,
      ...(this.lastCloseReason ? { lastCloseReason: this.lastCloseReason } : {}),
      ...(minPerConn !== undefined ? { connsReached: this.perConnCounts.filter((c) => c >= minPerConn).length } : {}),
      latency: summarizeLatency(this.latency, this.latencyCount),
    };
  }

  async closeAll(): Promise<void> {
    this.closing = true;
    for (const c of this.conns.splice(0)) c.close();
    this.perConnCounts = [];
    this.publisher?.close();
    this.publisher = undefined;
    await sleep(50);
    this.closing = false;
  }
}

const gen = new Generator();

async function handle(cmd: Command): Promise<unknown> {
  switch (cmd.op) {
    case 'init': return gen.init(cmd.target, cmd.info, cmd.serverPid, cmd.serverCore, cmd.genCore, cmd.extraPids);
    case 'open': return gen.open(cmd);
    case 'publisher': return gen.openPublisher(cmd.single ?? false);
    case 'phase': return gen.phase(cmd.spec);
    case 'burst': return gen.burst(cmd);
    case 'counter': return gen.counter(cmd.minPerConn);
    case 'reset': return gen.reset();
    case 'close-all': return gen.closeAll();
    case 'exit': setTimeout(() => process.exit(0), 10); return undefined;
  }
}

process.on('message', (msg: Command & { id: number }) => {
  handle(msg).then(
    (result) => process.send!({ id: msg.id, ok: true, result: result ?? null } satisfies Reply),
    (err: Error) => process.send!({ id: msg.id, ok: false, error: err.stack ?? err.message } satisfies Reply),
  );
});
process.on('disconnect', () => process.exit(0));
