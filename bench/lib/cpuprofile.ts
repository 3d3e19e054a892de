/** Summarises a V8 .cpuprofile (from node --cpu-prof): self time per function and inclusive time
 * per file, so "where does the server's time go" fits in a few lines of the report.
 * Alone: node --import tsx bench/lib/cpuprofile.ts <file.cpuprofile> [top=25] */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

export interface ProfileLine { name: string; selfMs: number; selfPct: number }
export interface ProfileSummary { totalMs: number; idlePct: number; top: ProfileLine[]; byFile: ProfileLine[] }

function shortUrl(url: string): string {
  if (!url) return '(native)';
  const m = /\/(src|bench|node_modules)\/(.*)$/.exec(url);
  return m ? `${m[1]}/${m[2]}` : url.replace(/^file:\/\//, '').replace(/^node:/, 'node:');
}

export function summarizeProfile(path: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const totalUs = [...self.values()].reduce((a, b) => a + b, 0);
  const fnTime = new Map<string, number>();
  const fileTime = new Map<string, number>();
  let idleUs = 0;
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') idleUs += us;
    const key = `${functionName || '(anonymous)'} ${shortUrl(url)}${url ? `:${lineNumber + 1}` : ''}`;
    fnTime.set(key, (fnTime.get(key) ?? 0) + us);
    const file = url ? shortUrl(url).replace(/^(node_modules\/(@[^/]+\/)?[^/]+)\/.*$/, '$1') : functionName;
    fileTime.set(file, (fileTime.get(file) ?? 0) + us);
  }
  const busyUs = Math.max(1, totalUs - idleUs);
  const lines = (m: Map<string, number>) =>
    [...m].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)
      .map(([name, us]) => ({ name, selfMs: us / 1000, selfPct: (us * 100) / busyUs }));
  return { totalMs: totalUs / 1000, idlePct: (idleUs * 100) / Math.max(1, totalUs), top: lines(fnTime), byFile: lines(fileTime) };
}

export function formatProfile(s: ProfileSummary): string {
  const out = [`profile: ${s.totalMs.toFixed(0)} ms sampled, ${s.idlePct.toFixed(1)}% idle; self time as % of busy:`];
  for (const l of s.top) out.push(`  ${l.selfPct.toFixed(1).padStart(5)}%  ${l.selfMs.toFixed(1).padStart(8)} ms  ${l.name}`);
  out.push('by file / module:');
  for (const l of s.byFile.slice(0, 15)) out.push(`  ${l.selfPct.toFixed(1).padStart(5)}%  ${l.name}`);
  return out.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  if (!file) { process.stderr.write('usage: cpuprofile.ts <file.cpuprofile> [top]\n'); process.exit(2); }
  process.stdout.write(formatProfile(summarizeProfile(file, Number(process.argv[3] ?? 25))) + '\n');
}
