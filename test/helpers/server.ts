/** Starts a real Tidings server on 127.0.0.1, port 0, quiet logs; closes it when the test ends.
 * In dev mode it also starts the demo moderator, as `tidings serve` does. */
import type { Test } from 'tap';
import { createServer, defaultFeatures, generateSigningKey, type TidingsServer, type DeepPartial, type TidingsConfig, type Clock } from '../../src/index.js';
import { startDevModerator } from '../../src/cli/dev-moderator.js';

export interface TestServerOptions { config?: DeepPartial<TidingsConfig>; clock?: Clock }

export async function startServer(t: Test, options: TestServerOptions = {}): Promise<TidingsServer> {
  // A short shutdown grace: a test that leaves a client not reading should not hold its teardown.
  const base: DeepPartial<TidingsConfig> = { logLevel: 'silent', server: { port: 0, shutdownGraceMs: 1000 }, auth: { signingKeys: [generateSigningKey()] } };
  const config = deepMerge(base, options.config ?? {});
  const server = await createServer({ config, ...(options.clock ? { clock: options.clock } : {}) }, defaultFeatures());
  const stopModerator = server.config.dev ? await startDevModerator(server) : undefined;
  t.teardown(async () => {
    await stopModerator?.();
    await server.close();
  });
  return server;
}

function deepMerge<T>(a: T, b: DeepPartial<T>): T {
  const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
  for (const [k, v] of Object.entries(b as Record<string, unknown>)) {
    const prev = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' ? deepMerge(prev, v as never) : v;
  }
  return out as T;
}
