/** A Tidings node in a child process, for tests that kill a node the hard way (SIGKILL: no
 * shutdown work at all, like a crashed host). `spawnNode` starts this file; it reads its config
 * (JSON) from TIDINGS_TEST_NODE_CONFIG and prints `READY <port>` once listening. */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import type { DeepPartial, TidingsConfig } from '../../src/index.js';

export interface ChildNode {
  pid: number;
  port: number;
  wsUrl: string;
  httpUrl: string;
  /** SIGKILL; resolves once the process is gone. */
  kill(): Promise<void>;
}

export async function spawnNode(t: Test, config: DeepPartial<TidingsConfig>): Promise<ChildNode> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, TIDINGS_TEST_NODE_CONFIG: JSON.stringify(config) }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); await exited; };
  t.teardown(kill);
  let port: number | undefined;
  for await (const line of createInterface({ input: child.stdout! })) {
    const m = /^READY (\d+)$/.exec(line);
    if (m) { port = Number(m[1]); break; }
  }
  if (port === undefined) throw new Error('the child node exited before it listened');
  return { pid: child.pid!, port, wsUrl: `ws://127.0.0.1:${port}/v1/ws`, httpUrl: `http://127.0.0.1:${port}`, kill };
}

if (process.env['TIDINGS_TEST_NODE_CONFIG'] && process.argv[1] === fileURLToPath(import.meta.url)) {
  const { createServer, defaultFeatures } = await import('../../src/index.js');
  const config = JSON.parse(process.env['TIDINGS_TEST_NODE_CONFIG']) as DeepPartial<TidingsConfig>;
  const server = await createServer({ config }, defaultFeatures());
  process.stdout.write(`READY ${server.port}\n`);
  process.on('SIGTERM', () => { void server.close().finally(() => process.exit(0)); });
}
