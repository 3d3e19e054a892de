/** Tidings with the Momento-compatible gRPC listener on too: prints `READY <wsPort> <grpcPort>`. */
import { createServer, defaultFeatures } from '../../../src/index.js';
import { announce } from './lifecycle.js';

const signingKey = process.env['BENCH_SIGNING_KEY'];
if (!signingKey) throw new Error('BENCH_SIGNING_KEY is required');
const server = await createServer(
  { config: { logLevel: 'warn', server: { host: '127.0.0.1', port: 0 }, auth: { signingKeys: [signingKey] }, momento: { enabled: true, port: 0 } } },
  defaultFeatures(),
);
announce(server.port, () => server.close());
process.stdout.write(`MOMENTO ${server.momentoPort}\n`);
