// npm leaves optional dependencies that the registry here cannot serve (msgpackr's non-linux
// extractors) out of package-lock.json, and `npm ci` then refuses the lockfile (npm/cli#9846).
// Add a stub entry for each such exact-version optional dependency. Idempotent.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';

const lockPath = new URL('../package-lock.json', import.meta.url);
if (!existsSync(lockPath)) process.exit(0);
const text = readFileSync(lockPath, 'utf8');
const lock = JSON.parse(text);
const packages = lock.packages ?? {};
const present = new Set(Object.keys(packages).map((p) => p.replace(/^.*node_modules\//, '')));
let added = 0;
for (const entry of Object.values(packages)) {
  for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    if (!/^\d+\.\d+\.\d+$/.test(spec) || present.has(name)) continue;
    packages[`node_modules/${name}`] = { version: spec, optional: true };
    present.add(name);
    added++;
  }
}
if (added > 0) writeFileSync(lockPath, JSON.stringify(lock, null, 2) + '\n');
