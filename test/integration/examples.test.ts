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
    env: { ...env, TIDINGS_URL: server.wsUrl, TIDINGS_API_KEY: moderatorKey }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => { moderator.kill('SIGKILL'); });
  for await (const line of createInterface({ input: moderator.stdout! })) if (/joined group/.test(line)) break;

  const chat = (name: string, ...messages: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'examples/chat.ts', '--room', 'room1', '--name', name, ...messages], { env: { ...env, TIDINGS_API_KEY: backendKey }, timeout: 30_000 });

  const alice = await chat('alice', 'hello everyone', 'what a darn day', 'this message is far too long to pass');
  t.match(alice.stdout, /^<alice> hello everyone$/m, 'accepted as sent, attributed to the sender');
  t.match(alice.stdout, /^<alice> what a \*\*\*\* day$/m, 'the word filter masks');
  t.match(alice.stdout, /^rejected: messages are at most 20 characters$/m, 'the length limit rejects, and the sender is told why');

  const bob = await chat('bob');
  t.match(bob.stdout, /^history <alice> hello everyone\nhistory <alice> what a \*\*\*\* day\n?$/m, 'a later client reads the moderated history');
  t.notMatch(bob.stdout, /too long/, 'rejected input never reaches the history');
});
