/** The packed package works outside the repo: `npm pack` -> `npm install <tarball> ws` in a scratch
 * project -> `import('tidings/client')` talks to a real broker, and its types check under tsc.
 * Bounded: dist/ is reused (pack --ignore-scripts; the build itself is what `npm install` runs),
 * and the install prefers the npm cache (uWebSockets.js is 113 MB). About 15 s. */
import t from 'tap';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startServer } from '../helpers/server.js';
import { ensureBuilt } from '../helpers/build.js';
import { PermissionScopes } from '../../src/index.js';

const run = promisify(execFile);
// The install copies ~130 MB; on a machine shared with other jobs that alone can pass the default
// per-file timeout.
t.setTimeout(240_000);
const npm = (args: string[], cwd: string) => run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, timeout: 120_000 });

t.test('package - the packed tarball installs in a scratch project; tidings/client imports, connects and type-checks', async (t) => {
  ensureBuilt();
  const scratch = mkdtempSync(join(tmpdir(), 'tidings-pack-'));
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
  await npm(['pack', '--ignore-scripts', '--pack-destination', scratch], process.cwd());
  const tarball = readdirSync(scratch).find((f) => f.endsWith('.tgz'));
  t.ok(tarball, `npm pack wrote ${tarball}`);

  const app = join(scratch, 'app');
  await run('mkdir', [app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }));
  // Dependency install scripts are not needed on linux-x64 (prebuilt binaries; toolchain.md).
  await npm(['install', '--prefer-offline', '--ignore-scripts', join('..', tarball!), 'ws'], app);

  const server = await startServer(t);
  const token = (await server.auth.mintDisposableToken({ scope: PermissionScopes.topicPublishSubscribe('app', 'news'), expiresInSec: 60, tokenId: 'packed' })).token;
  writeFileSync(join(app, 'main.js'), `
    import { connect, TopicPublish } from 'tidings/client';
    import WebSocket from 'ws';
    const sdk = connect({ url: process.env.TIDINGS_URL, token: process.env.TIDINGS_TOKEN, webSocket: WebSocket });
    const published = await sdk.topics.publish('app', 'news', 'from a packed install');
    console.log(String(published), published instanceof TopicPublish.Success);
    sdk.close();
  `);
  const { stdout } = await run(process.execPath, ['main.js'], { cwd: app, env: { ...process.env, TIDINGS_URL: server.httpUrl, TIDINGS_TOKEN: token }, timeout: 30_000 });
  t.match(stdout, /^Success: seq 1, page \d+ true$/m, 'the installed SDK publishes to a real broker');

  writeFileSync(join(app, 'check.ts'), `
    import { connect, TopicPublish, type ConnectionOptions } from 'tidings/client';
    const options: ConnectionOptions = { url: 'http://127.0.0.1:8080', token: 't' };
    const published: TopicPublish.Response = await connect(options).topics.publish('app', 'news', 'typed');
    // @ts-expect-error a value is text or bytes: proves the types are real, not any
    await connect(options).topics.publish('app', 'news', 42);
    export { published };
  `);
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { noEmit: true, strict: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', lib: ['es2022', 'dom'], types: [], skipLibCheck: true },
    files: ['check.ts'],
  }));
  const tsc = resolve('node_modules/typescript/bin/tsc');
  const checked = await run(process.execPath, [tsc, '-p', '.'], { cwd: app, timeout: 60_000 }).then(() => 'ok', (err: { stdout: string }) => err.stdout);
  t.equal(checked, 'ok', 'tidings/client ships its types');
});
