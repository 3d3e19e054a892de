/** A node whose `rediss://` Redis presents a certificate it does not trust (self-signed, a private
 * CA not given to Node) fails its start at once, saying so and how to trust one, rather than
 * retrying for redis.connectTimeoutMs and then reporting that Redis "did not answer": no retry
 * can fix a certificate. A `rediss://` URL naming a plain-text port (which takes the TLS hello for
 * the start of a command and never answers) fails after redis.connectTimeoutMs saying that TLS did
 * not complete, not only that Redis "did not answer". */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, requireRedis, sharedRedisUrl, startRedis, uniquePrefix } from '../helpers/redis.js';
import { createServer, defaultFeatures, generateSigningKey } from '../../src/index.js';

t.test('a Redis certificate the node does not trust fails the start at once, naming the way to trust it', async (t) => {
  if (!requireRedis(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'tidings-redis-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
  } catch {
    if (process.env['CI'] === 'true') throw new Error('openssl is needed to make a certificate for this test');
    t.comment('SKIPPING: no openssl to make a certificate');
    return;
  }
  const redis = await startRedis(t);
  const tlsPort = await freePort();
  await redis.stop();
  await redis.start(['--tls-port', String(tlsPort), '--tls-cert-file', join(dir, 'cert.pem'), '--tls-key-file', join(dir, 'key.pem'), '--tls-auth-clients', 'no']);

  const connectTimeoutMs = 20_000;
  const started = Date.now();
  await t.rejects(createServer({ config: {
    logLevel: 'silent', engine: 'redis', server: { port: 0 }, auth: { signingKeys: [generateSigningKey()] },
    redis: { url: `rediss://127.0.0.1:${tlsPort}`, keyPrefix: uniquePrefix('tls'), connectTimeoutMs },
  } }, defaultFeatures()), { message: new RegExp(`^Redis at 127\\.0\\.0\\.1:${tlsPort} presented a TLS certificate this node does not trust: self[- ]signed certificate.*NODE_EXTRA_CA_CERTS`) });
  // Not a timing assertion on speed: only that it did not wait out the 20 s connect timeout.
  t.ok(Date.now() - started < connectTimeoutMs, 'refused without waiting out redis.connectTimeoutMs');
});

t.test('rediss:// to a plain-text Redis port fails the start saying TLS did not complete, with the address', async (t) => {
  if (!requireRedis(t)) return;
  const port = new URL(await sharedRedisUrl()).port;
  await t.rejects(createServer({ config: {
    logLevel: 'silent', engine: 'redis', server: { port: 0 }, auth: { signingKeys: [generateSigningKey()] },
    redis: { url: `rediss://127.0.0.1:${port}`, keyPrefix: uniquePrefix('plain'), connectTimeoutMs: 500 },
  } }, defaultFeatures()), { message: new RegExp(`^Redis at 127\\.0\\.0\\.1:${port} accepted the connection but did not complete a TLS handshake within 500 ms.*tls-port.*redis://`) });
});
