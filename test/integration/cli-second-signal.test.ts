/** Stopping `tidings serve`: the first SIGTERM/SIGINT drains (a client that is not reading holds the
 * process up to server.shutdownGraceMs); a second one exits at once, with exit code 1, without
 * waiting for the drain. */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { RawClient } from '../helpers/raw-client.js';

type Paused = { _socket: { pause(): void } };

t.test('cli - a second signal during the drain exits at once', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'tidings-config-')), 'config.json');
  // A drain far longer than this test waits: only the second signal can end it in time.
  // Send buffers large enough to hold more than the kernel's socket buffers take, with no detach
  // (a detached subscriber's catch-up is bounded by the window, which the kernel could absorb).
  writeFileSync(file, JSON.stringify({ dev: true, logLevel: 'info', server: {
    shutdownGraceMs: 600_000, maxBackpressureBytes: 24 * 1024 * 1024, sendBufferHardLimitBytes: 64 * 1024 * 1024,
  } }));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--port', '0', '--config', file], {
    env: { ...process.env, TIDINGS_SIGNING_KEY: '' }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => { child.kill('SIGKILL'); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines: string[] = [];
  let seen: (() => void) | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => { lines.push(line); seen?.(); });
  const waitFor = async (pattern: RegExp) => {
    for (let i = 0; i < 300 && !lines.some((l) => pattern.test(l)); i++) await new Promise<void>((r) => { seen = r; setTimeout(r, 100); });
    return lines.find((l) => pattern.test(l));
  };
  const wsUrl = /websocket:\s+(\S+)/.exec((await waitFor(/websocket:/)) ?? '')?.[1];
  const adminKey = /admin API key:\s+(\S+)/.exec((await waitFor(/admin API key:/)) ?? '')?.[1];
  t.ok(wsUrl && adminKey, 'serve started');

  // A subscriber that stops reading, with items queued for it: the drain waits for it.
  const lagging = await RawClient.connect(wsUrl!);
  t.equal((await lagging.request({ t: 'hello', versions: [1], token: adminKey }))['t'], 'ok');
  await lagging.ok({ t: 'sub', cache: 'demo', topic: 'x' });
  (lagging.ws as unknown as Paused)._socket.pause();
  const publisher = await RawClient.connect(wsUrl!);
  await publisher.request({ t: 'hello', versions: [1], token: adminKey });
  const payload = 'p'.repeat(2048);
  for (let i = 0; i < 8000; i++) void publisher.request({ t: 'pub', cache: 'demo', topic: 'x', value: payload }, 30_000);
  await publisher.ok({ t: 'ping' });

  child.kill('SIGTERM');
  t.ok(await waitFor(/shutting down/), 'the first SIGTERM starts the drain');
  await new Promise((r) => setTimeout(r, 500));
  t.equal(child.exitCode, null, 'the drain is still waiting for the subscriber that is not reading');

  child.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 30_000).unref())]);
  t.equal(code, 1, 'the second SIGTERM ends the process at once, with exit code 1');
  t.ok(lines.some((l) => /second signal/.test(l)), 'and says so in the log');
});
