import t from 'tap';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));

t.test('manifest - package-lock.json agrees with package.json, so `npm install` leaves it unchanged', async (t) => {
  const root = lock.packages[''];
  t.same(root.dependencies, pkg.dependencies, 'dependencies');
  t.same(root.devDependencies, pkg.devDependencies, 'devDependencies');
  // A dev dependency that a production dependency also needs (e.g. @types/node) is rightly not
  // marked dev in the lock; every other one must be.
  const neededInProduction = new Set(Object.entries(lock.packages as Record<string, { dev?: boolean; dependencies?: Record<string, string> }>)
    .filter(([path, entry]) => path !== '' && !entry.dev)
    .flatMap(([, entry]) => Object.keys(entry.dependencies ?? {})));
  for (const name of Object.keys(pkg.devDependencies)) {
    const entry = lock.packages[`node_modules/${name}`];
    if (entry && !Object.hasOwn(pkg.dependencies, name) && !neededInProduction.has(name)) t.equal(entry.dev, true, `${name} is a dev dependency in the lock too`);
  }
  t.equal(lock.packages['node_modules/ws']?.dev, true, 'ws in particular is dev only');
});

t.test('manifest - server code never imports the SDK or ws (the demo moderator lives in demo/)', async (t) => {
  const files = (dir: string): string[] => readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
  const offenders = files('src')
    .filter((file) => !file.startsWith(join('src', 'client')))
    // A specifier follows `from` (or a bare `import`): `export type T = 'ws'` imports nothing.
    .flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm)]
      .map((m) => (m[1] ?? m[2])!)
      .filter((spec) => spec === 'ws' || /(^|\/)client\//.test(spec))
      .map((spec) => `${file} imports ${spec}`));
  t.same(offenders, []);
  t.notOk(Object.hasOwn(pkg.dependencies, 'ws'), 'ws is a dev dependency only');
});

t.test('manifest - the `tidings` bin, `npm start` and the bench run Node with the same flags', async (t) => {
  const shebang = readFileSync('src/main.ts', 'utf8').split('\n')[0]!;
  const binFlags = shebang.replace('#!/usr/bin/env -S node', '').trim().split(/\s+/);
  t.ok(binFlags.includes('--interrupt-budget=8000') && binFlags.includes('--max-semi-space-size=4'), `bin: ${shebang}`);
  const start = readFileSync('scripts/start.mjs', 'utf8');
  const startFlags = /spawn\(process\.execPath, \[([^\]]*?), join\(root/.exec(start)?.[1]?.split(',').map((f) => f.trim().replace(/^'|'$/g, ''));
  t.same(startFlags, binFlags, 'npm start');
  const { TIDINGS_NODE_FLAGS } = await import('../../bench/targets/tidings.js');
  t.same(TIDINGS_NODE_FLAGS, binFlags, 'bench');
});

t.test('manifest - every package the server code imports is a production dependency', async (t) => {
  // A devDependency is missing from an install of the published package: an import of one (even a
  // lazy one, like the Redis engine's) fails there, and no test in this checkout would notice.
  const files = (dir: string): string[] => readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
  const packageOf = (spec: string) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
  const imported = new Set(files('src').flatMap((file) => [...readFileSync(file, 'utf8')
    .matchAll(/^\s*(?:import|export)\b[^'";]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm)]
    .map((m) => (m[1] ?? m[2])!)
    .filter((spec) => !spec.startsWith('.') && !spec.startsWith('node:'))
    .map(packageOf)));
  t.ok(imported.has('msgpackr') && imported.has('uWebSockets.js'), 'the scan sees the imports');
  t.same([...imported].filter((name) => !Object.hasOwn(pkg.dependencies, name)).sort(), []);
});
