/** Scenarios owned elsewhere, called when present: bench/history.ts (runHistoryBench) and
 * bench/moderation.ts (runModerationBench, the moderated round trip). Absent = a "pending" row. */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fmtPaired, summarizeRatios, type ExtraSection, type TargetCheck } from '../lib/report.js';

export interface ExtraOptions { full: boolean; quick: boolean; runs: number; targets: string[]; log: (line: string) => void }

const HOOKS = {
  history: { file: '../history.ts', fn: 'runHistoryBench', title: 'History (replay and catch-up)' },
  moderated: { file: '../moderation.ts', fn: 'runModerationBench', title: 'Moderated round trip (publish → moderator → republish → subscriber)' },
} as const;

export type ExtraName = keyof typeof HOOKS;

export async function runExtra(name: ExtraName, options: ExtraOptions): Promise<ExtraSection> {
  const hook = HOOKS[name];
  const path = fileURLToPath(new URL(hook.file, import.meta.url));
  if (!existsSync(path)) {
    return { title: hook.title, markdown: `| scenario | status |\n|---|---|\n| ${name} | pending: \`bench/${hook.file.slice(3)}\` exporting \`${hook.fn}(options)\` does not exist yet; \`bench/run.ts\` calls it when it does |` };
  }
  try {
    const mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    const fn = mod[hook.fn];
    if (typeof fn !== 'function') throw new Error(`bench/${hook.file.slice(3)} does not export ${hook.fn}`);
    // Their own option names; both accept a run count and ignore what they do not know.
    const result: unknown = await (fn as (o: object) => unknown)({ runs: options.runs, verbose: false });
    return {
      title: hook.title,
      markdown: name === 'history' ? renderHistory(result) : name === 'moderated' ? renderModeration(result) : render(result),
      ...(name === 'history' ? { checks: historyChecks(result) } : {}),
    };
  } catch (err) {
    return { title: hook.title, markdown: `| scenario | status |\n|---|---|\n| ${name} | failed: ${String((err as Error).message).split('\n')[0]!.replace(/\|/g, '/')} |` };
  }
}

/** Accepts a markdown string, `{ markdown }`, or rows (array of flat objects, or `{ rows }`). */
function render(result: unknown): string {
  if (typeof result === 'string') return result;
  if (result && typeof result === 'object') {
    const r = result as { markdown?: unknown; rows?: unknown };
    if (typeof r.markdown === 'string') return r.markdown;
    const rows = Array.isArray(result) ? result : Array.isArray(r.rows) ? r.rows : undefined;
    if (rows && rows.length && rows.every((x) => x && typeof x === 'object')) {
      const cols = [...new Set(rows.flatMap((x) => Object.keys(x as object)))];
      const cell = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? v.toLocaleString('en-US') : v.toFixed(3)) : typeof v === 'object' ? JSON.stringify(v) : String(v ?? ''));
      return [`| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`, ...rows.map((x) => `| ${cols.map((c) => cell((x as Record<string, unknown>)[c]).replace(/\|/g, '/')).join(' | ')} |`)].join('\n');
    }
  }
  return '```json\n' + JSON.stringify(result, null, 2) + '\n```';
}

const f = (v: unknown, d = 0) => (typeof v === 'number' && Number.isFinite(v) ? v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : '–');

/** bench/history.ts's HistoryBenchResult: { options, tidings, redis, note }. */
function renderHistory(result: unknown): string {
  const r = result as { options?: Record<string, unknown>; tidings?: Record<string, unknown>; redis?: Record<string, unknown> | null; note?: string };
  if (!r || typeof r !== 'object' || !r.tidings) return render(result);
  const row = (name: string, x: Record<string, unknown>) => `| ${name} | ${f(x['appendOpsPerSec'])} | ${f(x['appendServerCpuPct'])} | ${f(x['appendServerUsPerOp'], 1)} | ${f(x['fetchOpsPerSec'])} | ${f(x['fetchServerCpuPct'])} | ${f(x['fetchServerUsPerOp'], 1)} |`;
  return [
    `Run by \`bench/history.ts\` (its own method: one connection, requests pipelined; options ${JSON.stringify(r.options ?? {})}).`,
    '',
    '| system | append+cap ops/s | server CPU % | server µs/op | fetch last 100 ops/s | server CPU % | server µs/fetch |', '|---|---:|---:|---:|---:|---:|---:|',
    row('**tidings**', r.tidings),
    r.redis ? row('redis', r.redis) : '| redis | skipped (redis-server not installed) | | | | | |',
    ...(r.note ? ['', r.note] : []),
  ].join('\n');
}

type HistoryRun = { appendOpsPerSec: number; fetchOpsPerSec: number; fetchServerUsPerOp: number };

/** Issue 16's history targets: fetch-last-100 at least redis-server's LRANGE (ops/s, and server CPU
 * per fetch at most redis-server's), append+cap at least 1.3× redis-server's RPUSH+LTRIM. Ratios per
 * run (run i of Tidings against run i of redis-server), the median shown with the range. */
function historyChecks(result: unknown): TargetCheck[] {
  const r = result as { tidings?: { runs?: HistoryRun[] } & HistoryRun; redis?: ({ runs?: HistoryRun[] } & HistoryRun) | null };
  if (!r?.tidings || !r.redis) return [];
  const t = r.tidings; const x = r.redis;
  const perRun = (k: keyof HistoryRun) => summarizeRatios((t.runs ?? []).map((run, i) => run[k] / (x.runs?.[i]?.[k] ?? NaN)));
  const fetchOps = perRun('fetchOpsPerSec');
  const fetchCpu = perRun('fetchServerUsPerOp');
  const appendOps = perRun('appendOpsPerSec');
  const fetchMet = fetchOps.median >= 1 && fetchCpu.median <= 1;
  return [
    {
      goal: 'history: fetch last 100 ≥ redis-server LRANGE (ops/s, and server CPU per fetch ≤ redis-server\'s)',
      measured: `${f(t.fetchOpsPerSec)} vs ${f(x.fetchOpsPerSec)} ops/s, per-run ratio ${fmtPaired(fetchOps)}; server CPU ${f(t.fetchServerUsPerOp, 1)} vs ${f(x.fetchServerUsPerOp, 1)} µs per fetch, per-run ratio ${fmtPaired(fetchCpu)}`,
      met: fetchOps.runs ? fetchMet : undefined,
      note: fetchMet ? '' : [fetchOps.median < 1 ? 'ops/s below redis' : '', fetchCpu.median > 1 ? `CPU per fetch over redis by ${((fetchCpu.median - 1) * 100).toFixed(0)}%` : ''].filter(Boolean).join('; '),
    },
    {
      goal: 'history: append+cap ≥ 1.3× redis-server RPUSH+LTRIM (ops/s)',
      measured: `${f(t.appendOpsPerSec)} vs ${f(x.appendOpsPerSec)} ops/s, per-run ratio ${fmtPaired(appendOps)}`,
      met: appendOps.runs ? appendOps.median >= 1.3 : undefined,
      note: appendOps.median >= 1.3 ? '' : 'below 1.3×',
    },
  ];
}

/** bench/moderation.ts's ModerationBenchResult. */
function renderModeration(result: unknown): string {
  const r = result as Record<string, unknown>;
  if (!r || typeof r !== 'object' || typeof r['p50Ms'] !== 'number') return render(result);
  return [
    'Run by `bench/moderation.ts` (its own method: a Tidings server and moderator processes, messages at a fixed rate).',
    '',
    '| messages | rate/s | moderators | received | lost | p50 ms | p99 ms | max ms | mean ms |', '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    `| ${f(r['messages'])} | ${f(r['ratePerSec'])} | ${f(r['moderators'])} | ${f(r['received'])} | ${f(r['lost'])} | ${f(r['p50Ms'], 2)} | ${f(r['p99Ms'], 2)} | ${f(r['maxMs'], 2)} | ${f(r['meanMs'], 2)} |`,
    ...(typeof r['note'] === 'string' ? ['', r['note']] : []),
  ].join('\n');
}
