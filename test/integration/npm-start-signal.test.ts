/** `npm start` (scripts/start.mjs) stops the broker gracefully on one Ctrl-C: a terminal sends
 * SIGINT to the whole foreground process group, and the broker must see it once, so a connected
 * client gets `bye` and close 4000 (docs/protocol.md, "Graceful shutdown") and the process exits 0,
 * rather than taking the launcher's forwarded copy as a second signal and exiting at once (1006). */
import t from 'tap';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { RawClient } from '../helpers/raw-client.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
// As `npm start` does, start.mjs first rebuilds dist/ when a source is newer than the build (a
// checkout with local edits); after `npm ci` the build is fresh and it starts at once.
t.setTimeout(180_000);

t.test('one SIGINT to the process group of npm start drains the broker, once', async (t) => {
  const env = { ...process.env };
  for (const name of ['TIDINGS_SIGNING_KEY', 'TIDINGS_PORT', 'PORT', 'TIDINGS_HOST', 'TIDINGS_DEV', 'TIDINGS_ENGINE']) delete env[name];
  // Its own process group, as a shell job is: the group is what a terminal signals.
  const launcher = spawn(process.execPath, ['scripts/start.mjs', '--port', '0'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => launcher.once('exit', (code) => resolve(code)));
  const lines: string[] = [];
  t.teardown(async () => {
    if (launcher.exitCode !== null) return;
    // Twice: the launcher forwards each, and a second signal ends the broker at once.
    for (const signal of ['SIGTERM', 'SIGTERM'] as const) try { process.kill(launcher.pid!, signal); } catch { /* gone */ }
    await exited;
  });
  let wsUrl: string | undefined;
  let key: string | undefined;
  const reader = createInterface({ input: launcher.stdout! });
  reader.on('line', (line) => lines.push(line));
  for await (const line of reader) {
    wsUrl ??= /websocket:\s+(\S+)/.exec(line)?.[1];
    key ??= /admin API key:\s+(\S+)/.exec(line)?.[1];
    if (wsUrl && key) break;
  }
  t.ok(wsUrl && key, 'npm start printed the WebSocket URL and an admin API key');
  // RawClient.open reads only the server's wsUrl.
  const client = await RawClient.open({ wsUrl } as never, key!);

  process.kill(-launcher.pid!, 'SIGINT');
  const close = await client.waitClosed(30_000);
  t.equal(close.code, 4000, 'the client is closed with 4000 (graceful), not 1006');
  t.match(client.frames.find((f) => f['t'] === 'bye'), { code: 4000, reconnect: true }, 'after a bye');
  t.equal(await exited, 0, 'the launcher exits 0, as the broker did');
  t.notOk(lines.some((l) => l.includes('second signal')), 'the broker saw one signal');
});
