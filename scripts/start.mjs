// `npm start`: the broker from dist/, rebuilt first only when a source file is newer than the build
// (a fresh clone was built by `npm install`'s prepare step, so starting is instant).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outputs = ['dist/main.js', 'dist/client/tidings.js', 'dist/demo/moderator.js'].map((p) => join(root, p));
const sources = ['src', 'demo/moderator.ts', 'demo/rules.ts', 'scripts/build-sdk-bundle.mjs', 'scripts/build-demo-moderator.mjs'].map((p) => join(root, p));

function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

const built = outputs.every(existsSync) ? Math.min(...outputs.map((p) => statSync(p).mtimeMs)) : -1;
if (Math.max(...sources.filter(existsSync).map(newest)) > built) {
  process.stdout.write('sources changed since the last build: building…\n');
  const build = spawnSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

// Same Node flags as the `tidings` bin (src/main.ts explains them).
// The broker runs in a process group of its own, so it hears a signal exactly once, from here: a
// terminal's Ctrl-C goes to the whole foreground group, and had the broker been in it, this
// forwarded copy would be its second signal, which skips the graceful drain (src/cli/main.ts).
// stdin is not passed on: a process outside the terminal's foreground group must not read it.
const child = spawn(process.execPath, ['--max-semi-space-size=4', '--interrupt-budget=8000', join(root, 'dist/main.js'), 'serve', ...process.argv.slice(2)],
  { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal === 'SIGHUP' ? 'SIGTERM' : signal));
child.on('exit', (code, signal) => { process.exitCode = code ?? (signal ? 1 : 0); });
