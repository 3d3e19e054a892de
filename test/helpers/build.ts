/** Tests that run what a user runs (README snippets, the packed package) need dist/ to match the
 * source: rebuild when any source file is newer than the build (`npm install` built it). */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

export function ensureBuilt(): void {
  const outputs = ['dist/index.js', 'dist/client/index.js', 'dist/client/tidings.js', 'dist/demo/moderator.js'];
  const built = outputs.every((p) => existsSync(p)) ? Math.min(...outputs.map((p) => statSync(p).mtimeMs)) : -1;
  if (newest('src') > built || newest('demo') > built) execFileSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
}
