/** The README's snippets run as written: every fenced block marked `runnable` (```sh runnable,
 * ```js runnable) runs, in order and in one shell, against a real dev-mode broker (with its
 * moderator), with only the environment the README tells the reader to set. */
import t from 'tap';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startServer } from '../helpers/server.js';
import { ensureBuilt } from '../helpers/build.js';

const run = promisify(execFile);

interface Block { lang: 'sh' | 'js'; code: string }

function runnableBlocks(markdown: string): Block[] {
  return [...markdown.matchAll(/^```(sh|js) runnable\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1] as Block['lang'], code: m[2]! }));
}

t.test('readme - every runnable snippet runs as is and prints what the README says', async (t) => {
  const curl = await run('bash', ['-c', 'command -v curl']).then(() => true, () => false);
  if (!curl) {
    if (process.env['CI'] === 'true') throw new Error('curl not found; .ci/run should have installed it');
    t.comment('SKIPPING the README snippets: no curl (apt-get install curl)');
    return t.plan(0, 'no curl');
  }
  const blocks = runnableBlocks(readFileSync('README.md', 'utf8'));
  t.same(blocks.map((b) => b.lang), ['sh', 'sh', 'js', 'js'], 'the terminal chat, the token, the SDK and the raw quick starts are all marked');
  // Snippets import 'tidings/client', which resolves to the build, as in a reader's checkout.
  ensureBuilt();
  const server = await startServer(t, { config: { dev: true } });
  // Inside the package, so `tidings/client` resolves by self-reference, as for a reader's quickstart.mjs.
  const dir = resolve('test-output/readme');
  mkdirSync(dir, { recursive: true });
  const script = ['set -euo pipefail'];
  blocks.forEach((block, i) => {
    script.push(`echo "::block ${i}::"`);
    if (block.lang === 'sh') script.push(block.code);
    else {
      const file = join(dir, `snippet-${i}.mjs`);
      writeFileSync(file, block.code);
      script.push(`node ${JSON.stringify(file)}`);
    }
  });
  const { stdout } = await run('bash', ['-c', script.join('\n')], {
    env: { PATH: process.env['PATH'], HOME: process.env['HOME'], TIDINGS_URL: server.httpUrl, TIDINGS_API_KEY: server.adminApiKey },
    timeout: 60_000,
  });
  const out = stdout.split(/^::block \d+::\n/m).slice(1);
  t.match(out[0], /^<alice> hello$/m, 'the terminal chat: accepted through the moderator');
  t.match(out[0], /^rejected: the word "darn" is not allowed in this chat$/m, 'rejected with the reason');
  t.match(out[0], /^history <alice> hello$/m, 'bob reads the moderated history');
  t.notMatch(out[0], /no moderator answered/);
  t.equal(out[1], '', 'the token is minted silently');
  t.match(out[2], /^Subscription: app\/news\nSuccess: seq 1, page \d+\nuser-17 said hello\nSuccess: list length 1\n$/, 'the SDK quick start, with the minted token');
  t.match(out[3], /t: 'ok',\s*id: 3/, 'the raw quick start publishes');
  t.match(out[3], /\[\s*'i',\s*'app',\s*'news',\s*'hello',\s*2,/, 'and receives its item, then exits');
});
