/** A server whose Redis refuses it (a wrong password) fails to start at once with one line that
 * says why (Redis's own reason), and never shows the password it was given: `tidings serve` exits 1.
 * A start that fails later (Redis refuses the engine's SUBSCRIBE) leaves nothing that keeps the
 * process alive: it exits by itself. */
import t from 'tap';
import { spawn } from 'node:child_process';
import { generateSigningKey } from '../../src/index.js';
import { Redis } from 'ioredis';
import { deletePrefix, requireRedis, sharedRedisUrl, startRedis, uniquePrefix } from '../helpers/redis.js';

/** Runs `tidings serve` until it exits, or stops it (SIGKILL; status null) once it says it is
 * listening, or when it has not exited within a minute (something kept the process alive). */
function serve(env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--port', '0'], { env: { ...process.env, ...env } });
  const stuck = setTimeout(() => child.kill('SIGKILL'), 60_000);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += String(d); if (/listening/.test(stdout)) child.kill('SIGKILL'); });
  child.stderr.on('data', (d) => { stderr += String(d); });
  return new Promise((resolve) => child.once('close', (status) => { clearTimeout(stuck); resolve({ status, stdout, stderr }); }));
}

t.test('cli - a wrong Redis password refuses to start, saying Redis refused it, never the password', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t, { requirePass: 'right-password-9f3a' });
  const wrong = 'wrong-password-71c2e';
  const run = await serve({
    TIDINGS_SIGNING_KEY: generateSigningKey(), TIDINGS_ENGINE: 'redis', TIDINGS_LOG_LEVEL: 'trace',
    TIDINGS_REDIS_URL: `redis://:${wrong}@127.0.0.1:${redis.port}`,
  });
  t.equal(run.status, 1, 'exit 1');
  t.notMatch(run.stdout, /tidings listening/, 'the server did not start');
  const lines = run.stderr.trim().split('\n');
  t.equal(lines.length, 1, `one line: ${run.stderr.trim()}`);
  t.match(lines[0], `Redis at 127.0.0.1:${redis.port}`, 'it names where it looked');
  t.match(lines[0], /WRONGPASS|NOAUTH|password/i, 'it says Redis refused the credentials, not just that it did not answer');
  t.notMatch(lines[0], /did not answer within/, 'it failed on the refusal, not after waiting out redis.connectTimeoutMs');
  for (const secret of [wrong, 'right-password-9f3a']) {
    t.notOk(run.stderr.includes(secret) || run.stdout.includes(secret), 'no password in the output, at trace level either');
  }
});

t.test('cli - a start that fails once connected (Redis refuses SUBSCRIBE) exits by itself: nothing it opened keeps the process alive', async (t) => {
  if (!requireRedis(t)) return;
  const url = new URL(await sharedRedisUrl());
  const admin = new Redis(url.href);
  const user = `startup-nosub-${process.pid}`;
  const prefix = uniquePrefix('nosub');
  t.teardown(async () => { await admin.call('ACL', 'DELUSER', user); admin.disconnect(); await deletePrefix(url.href, prefix); });
  // Connecting and the start's permission probes (EVALSHA, PUBLISH) pass; the engine's first SUBSCRIBE is refused.
  await admin.call('ACL', 'SETUSER', user, 'on', '>nosub-pw-3e8a', '~*', '&*', '+@all', '-subscribe');
  const run = await serve({
    TIDINGS_SIGNING_KEY: generateSigningKey(), TIDINGS_ENGINE: 'redis',
    TIDINGS_REDIS_URL: `redis://${user}:nosub-pw-3e8a@${url.host}`, TIDINGS_REDIS_KEY_PREFIX: prefix,
  });
  t.equal(run.status, 1, 'exit 1, by itself (not killed after a minute)');
  t.notMatch(run.stdout, /tidings listening/, 'the server did not start');
  t.match(run.stderr, /NOPERM.*subscribe/, `it says Redis refused SUBSCRIBE: ${run.stderr.trim()}`);
});
