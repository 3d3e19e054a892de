/** Node processes of the bench (the server scripts and the load generator) run from esbuild bundles
 * of the TypeScript sources, not under tsx: tsx compiles with keepNames, which wraps every closure
 * in `__name(fn, ...)` and gives each one a dictionary of properties (measured: +2.3 KB per Tidings
 * connection, plus CPU at every closure creation). A bundle is what a tsc build would run, minus
 * the module loader thread. Dependencies stay external (resolved from node_modules). */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const RAW_DIR = fileURLToPath(new URL('../results/raw/', import.meta.url));
export const BUILD_DIR = join(RAW_DIR, 'build');

const ENTRIES: Record<string, string> = {
  'loadgen': '../lib/loadgen.ts',
  'micro-all': '../micro/all.ts',
  'tidings-server': '../targets/servers/tidings-server.ts',
  'bare-uws-server': '../targets/servers/bare-uws-server.ts',
  'ws-broker-server': '../targets/servers/ws-broker-server.ts',
  'socketio-server': '../targets/servers/socketio-server.ts',
  'socketio-redis-server': '../targets/servers/socketio-redis-server.ts',
};

let built: Promise<void> | undefined;

/** Builds every bundle once per process; returns the path of `name`'s bundle. */
export async function bundlePath(name: keyof typeof ENTRIES | string): Promise<string> {
  built ??= build({
    entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([k, v]) => [k, fileURLToPath(new URL(v, import.meta.url))])),
    outdir: BUILD_DIR,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
  }).then(() => undefined);
  await built;
  if (!(name in ENTRIES)) throw new Error(`no bundle named ${name}`);
  return join(BUILD_DIR, `${name}.mjs`);
}
