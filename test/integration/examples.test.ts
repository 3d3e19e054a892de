import t from 'tap';
import { spawn, execFile } from 'node:child_process';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { startServer } from '../helpers/server.js';
import { PermissionScopes } from '../../src/index.js';

const run = promisify(execFile);

t.test('examples - the README chat flow: client -> <room>-input -> example moderator -> <room> + history', async (t) => {
  const server = await startServer(t);
  const moderatorKey = (await server.auth.mintApiKey({ scope: PermissionScopes.moderator('chat'), expiresInSec: null })).token;
  const backendKey = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const env = { ...process.env, TIDINGS_URL: server.httpUrl };

  const moderator = spawn(process.execPath, ['--import', 'tsx', 'examples/moderator.ts', '--max-length', '20'], {
    env: { ...env, TIDINGS_API_KEY: moderatorKey }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => { moderator.kill('SIGKILL'); });
  for await (const line of createInterface({ input: moderator.stdout! })) if (/joined group/.test(line)) break;

  const chat = (name: string, ...messages: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'examples/chat.ts', '--room', 'room1', '--name', name, '--wait', '30', ...messages], { env: { ...env, TIDINGS_API_KEY: backendKey }, timeout: 60_000 });

  const started = Date.now();
  const alice = await chat('alice', 'hello   everyone', 'what a darn day', 'this message is far too long to pass');
  t.match(alice.stdout, /^<alice> hello everyone$/m, 'accepted, whitespace tidied, attributed to the sender');
  t.match(alice.stdout, /^rejected: the word "darn" is not allowed in this chat$/m, 'the shared chat rules refuse a blocked word');
  t.match(alice.stdout, /^rejected: the message is 36 characters long; the limit is 20$/m, 'the length limit rejects, and the sender is told why');
  // A wait timer left running would hold the process for the 30 s of --wait.
  t.ok(Date.now() - started < 25_000, 'the client exits as soon as its last message is settled (no timer left running)');

  const bob = await chat('bob');
  t.match(bob.stdout, /^history <alice> hello everyone\n?$/m, 'a later client reads the moderated history');
  t.notMatch(bob.stdout, /darn|too long/, 'rejected input never reaches the history');
});

t.test('examples - with no moderator the chat client says so and exits; a moderator on a wrong URL gives up loudly', async (t) => {
  const server = await startServer(t);
  const backendKey = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const lonely = await run(process.execPath, ['--import', 'tsx', 'examples/chat.ts', '--wait', '0.5', 'anyone there?'], {
    env: { ...process.env, TIDINGS_URL: server.httpUrl, TIDINGS_API_KEY: backendKey }, timeout: 30_000,
  }).catch((err: { code: number; stdout: string }) => err);
  t.match(lonely.stdout, /no moderator answered within 0.5 s/, 'it says what is missing');
  t.equal((lonely as { code?: number }).code, 1, 'and exits with 1');

  // A port nothing listens on (the server's own port, after it closed).
  const dead = await startServer(t);
  const deadUrl = dead.httpUrl;
  await dead.close();
  const lost = await run(process.execPath, ['--import', 'tsx', 'examples/moderator.ts'], {
    env: { ...process.env, TIDINGS_URL: deadUrl, TIDINGS_API_KEY: backendKey }, timeout: 60_000,
  }).catch((err: { code: number; stdout: string; stderr: string }) => err);
  t.equal((lost as { code?: number }).code, 1, 'the moderator exits with 1');
  t.match((lost as { stderr: string }).stderr, new RegExp(`cannot reach ${deadUrl.replace(/[./]/g, '\\$&')}.*retry 1/4`), 'it prints every failed attempt');
  t.match((lost as { stderr: string }).stderr, /moderator did not start: /, 'and why it gave up');
});

t.test('examples - --help prints the usage; a flag they do not know is a one-line error, not a stack trace', async (t) => {
  for (const example of ['examples/chat.ts', 'examples/moderator.ts']) {
    const help = await run(process.execPath, ['--import', 'tsx', example, '--help'], { timeout: 30_000 });
    t.match(help.stdout, /^usage: node --import tsx examples\/\w+\.ts /, `${example} --help: the usage`);
    t.match(help.stdout, /TIDINGS_API_KEY/, `${example} --help names the API key it needs`);
    const bad = await run(process.execPath, ['--import', 'tsx', example, '--romm', 'lobby'], { timeout: 30_000 })
      .catch((err: { code: number; stdout: string; stderr: string }) => err);
    t.equal((bad as { code?: number }).code, 2, `${example} --romm: exit code 2`);
    t.match((bad as { stderr: string }).stderr, /Unknown option '--romm'.*--help/, 'says what is wrong and where the flags are listed');
    t.notMatch((bad as { stderr: string }).stderr, /\n\s+at /, 'no stack trace');
  }
});
