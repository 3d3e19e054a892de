/** `tidings revoke` against a server it cannot reach says which URL and why (exit 1), not just
 * "fetch failed". */
import t from 'tap';
import { createServer } from 'node:net';
import { cliInProcess } from '../helpers/cli.js';

t.test('cli revoke - an unreachable server: the URL and the cause', async (t) => {
  // A port that was just free: nothing listens on it.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  const run = await cliInProcess(['revoke', '--token-id', 'dave', '--url', `http://127.0.0.1:${port}`], { TIDINGS_API_KEY: 'k' });
  t.equal(run.status, 1);
  t.equal(run.stderr, `revoke failed: cannot reach http://127.0.0.1:${port}/v1/revocations (ECONNREFUSED)\n`);
  t.equal(run.stdout, '');
});
