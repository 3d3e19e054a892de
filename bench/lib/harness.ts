/** Runs one target for one scenario run: a fresh server pinned to its core, load generators pinned
 * to the other, everything torn down afterwards even on failure. */
import { mkdirSync } from 'node:fs';
import { generateSigningKey } from '../../src/auth/tokens.js';
import type { RunningTarget, Target } from '../targets/types.js';
import { LoadGen } from './loadgen-handle.js';
import { cpuCount, freePort } from './proc.js';
import type { OpenCommand, OpenResult, PhaseResult, PhaseSpec, SubscriptionPlan } from './loadgen-protocol.js';

export interface Placement { serverCpus: string | undefined; generatorCpus: string | undefined; note: string }

/** Server on core 0, generators on core 1 (and the rest, if any); no pinning on a 1-core box. */
export function placement(): Placement {
  const n = cpuCount();
  if (n < 2) return { serverCpus: undefined, generatorCpus: undefined, note: 'one core: server and generator share it (no pinning)' };
  return { serverCpus: '0', generatorCpus: n === 2 ? '1' : `1-${n - 1}`, note: `server pinned to core 0, load generator(s) to core${n === 2 ? ' 1' : `s 1-${n - 1}`}` };
}

export interface HarnessOptions {
  /** Write V8 CPU profiles of Node servers here (--cpu-prof). */
  cpuProfDir?: string;
  /** Load-generator processes (connections are split evenly). */
  generators?: number;
}

export interface TargetSession {
  target: Target;
  server: RunningTarget;
  gens: LoadGen[];
  /** Opens `total` subscriber connections split across the generators (in parallel). */
  open(total: number, plan: SubscriptionPlan, options?: Partial<Pick<OpenCommand, 'concurrency' | 'timedStride' | 'distinctTokens' | 'timeoutMs' | 'countPerConn' | 'single'>>): Promise<OpenResult & { perGenerator: OpenResult[] }>;
  /** Opens the publisher connection on generator 0 (`single`: a `ws` package client). */
  publisher(single?: boolean): Promise<void>;
  /** Runs one measured phase on generator 0 (publisher and subscribers must live there). */
  phase(spec: PhaseSpec): Promise<PhaseResult>;
}

export async function withTarget<T>(target: Target, options: HarnessOptions, body: (s: TargetSession) => Promise<T>): Promise<T> {
  const place = placement();
  if (options.cpuProfDir) mkdirSync(options.cpuProfDir, { recursive: true });
  const signingKey = generateSigningKey();
  const server = await target.start({
    port: await freePort(), cpus: place.serverCpus, signingKey,
    ...(options.cpuProfDir ? { cpuProfDir: options.cpuProfDir } : {}),
  });
  const gens: LoadGen[] = [];
  try {
    for (let i = 0; i < (options.generators ?? 1); i++) gens.push(await LoadGen.start(place.generatorCpus));
    await Promise.all(gens.map((g) => g.call({ op: 'init', target: target.name, info: server.info, serverPid: server.pid, serverCore: firstCore(place.serverCpus), genCore: firstCore(place.generatorCpus) })));
    const session: TargetSession = {
      target, server, gens,
      async open(total, plan, o = {}) {
        const per = Math.ceil(total / gens.length);
        const results = await Promise.all(gens.map((g, i) => {
          const count = Math.max(0, Math.min(per, total - i * per));
          return g.call<OpenResult>({
            op: 'open', count, firstIndex: i * per, plan,
            concurrency: o.concurrency ?? 64, timedStride: o.timedStride ?? 1, distinctTokens: o.distinctTokens ?? false, timeoutMs: o.timeoutMs ?? 20_000, ...(o.countPerConn ? { countPerConn: true } : {}), ...(o.single ? { single: true } : {}),
          });
        }));
        const firstError = results.find((r) => r.firstError)?.firstError;
        return {
          opened: results.reduce((a, r) => a + r.opened, 0),
          failed: results.reduce((a, r) => a + r.failed, 0),
          elapsedMs: Math.max(...results.map((r) => r.elapsedMs)),
          tokenMintMs: Math.max(...results.map((r) => r.tokenMintMs)),
          ...(firstError ? { firstError } : {}),
          perGenerator: results,
        };
      },
      publisher: (single) => gens[0]!.call({ op: 'publisher', ...(single ? { single: true } : {}) }),
      phase: (spec) => gens[0]!.call<PhaseResult>({ op: 'phase', spec }, spec.durationMs + spec.drainMs + 60_000),
    };
    return await body(session);
  } finally {
    await Promise.all(gens.map((g) => g.stop()));
    await server.stop();
  }
}

function firstCore(cpus: string | undefined): number {
  return cpus === undefined ? -1 : Number(cpus.split(/[-,]/)[0]);
}
