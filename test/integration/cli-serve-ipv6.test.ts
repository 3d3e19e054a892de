/** `tidings serve --host` with an IPv6 address prints URLs that work (`http://[::1]:port/`, the
 * address in brackets), and dev mode's moderator connects through them; an empty host is refused
 * at start-up with the key's name. */
import t from 'tap';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { resolveConfig } from '../../src/index.js';

t.test('cli - serve --host ::1 in dev mode: bracketed URLs, a working demo page and moderator', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--port', '0', '--host', '::1'], {
    env: { ...process.env, TIDINGS_SIGNING_KEY: '', TIDINGS_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => { child.kill('SIGKILL'); });
  const printed: string[] = [];
  for await (const line of createInterface({ input: child.stdout! })) {
    printed.push(line);
    // The banner and the moderator's outcome (a log line, written asynchronously: either order).
    const text = printed.join('\n');
    if (/admin API key:/.test(text) && /demo moderator (running|did not start)/.test(text)) break;
  }
  const text = printed.join('\n');
  const page = /demo page:\s+(\S+)/.exec(text)?.[1];
  t.match(page, /^http:\/\/\[::1\]:\d+\/$/, 'the demo page URL has the address in brackets');
  t.match(/websocket:\s+(\S+)/.exec(text)?.[1], /^ws:\/\/\[::1\]:\d+\/v1\/ws$/);
  t.equal((await fetch(page!)).status, 200, 'and it opens');
  t.match(text, /demo moderator running/, 'the dev moderator connected');
  t.notMatch(text, /did not start/);
});

t.test('config - an empty server.host is refused', async (t) => {
  t.throws(() => resolveConfig({ server: { host: '' } }), { message: /server\.host/ });
});
