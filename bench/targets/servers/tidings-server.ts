/** Tidings with the memory engine and default features, quiet logs, the bench's signing key. */
import { createServer, defaultFeatures } from '../../../src/index.js';
import { announce, portArg } from './lifecycle.js';

const signingKey = process.env['BENCH_SIGNING_KEY'];
if (!signingKey) throw new Error('BENCH_SIGNING_KEY is required');
const server = await createServer(
  { config: { logLevel: 'warn', server: { host: '127.0.0.1', port: portArg() }, auth: { signingKeys: [signingKey] } } },
  defaultFeatures(),
);
announce(server.port, () => server.close());
