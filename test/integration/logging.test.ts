import t from 'tap';
import { Writable } from 'node:stream';
import { createServer, defaultFeatures, generateSigningKey, PermissionScopes } from '../../src/index.js';
import { createLogger } from '../../src/core/logger.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';

t.test('logging - structured lines with connection ids; tokens and keys never appear', async (t) => {
  let written = '';
  const sink = new Writable({ write(chunk, _enc, done) { written += String(chunk); done(); } });
  const signingKey = generateSigningKey();
  const server = await createServer(
    { config: { dev: true, server: { port: 0 }, auth: { signingKeys: [signingKey] } }, logger: createLogger({ level: 'trace', destination: sink }) },
    defaultFeatures(),
  );
  t.teardown(() => server.close());
  const token = await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', '*'), { tokenId: 'alice' });
  const c = await RawClient.open(server, token);
  await c.ok({ t: 'sub', cache: 'chat', topic: 'x' });
  await c.ok({ t: 'auth', token });
  const refused = await RawClient.connect(server.wsUrl);
  const forged = token.slice(0, -4) + 'AAAA';
  await refused.request({ t: 'hello', versions: [1], token: forged });
  await fetch(`${server.httpUrl}/v1/tokens`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{}' });
  // Logging a whole object that holds secrets still redacts them.
  server.logger.info({ token, auth: { signingKey, apiKey: server.adminApiKey }, headers: { authorization: `Bearer ${token}` } }, 'debug dump');
  c.close();
  await c.waitClosed();
  await new Promise((r) => setTimeout(r, 50));
  const lines = written.split('\n').filter(Boolean);

  t.ok(lines.length >= 3, `${lines.length} log lines`);
  for (const line of lines) t.doesNotThrow(() => JSON.parse(line), 'each line is JSON');
  const all = lines.join('\n');
  for (const [name, secret] of [['token', token], ['forged token', forged], ['signing key', signingKey], ['admin key', server.adminApiKey!]] as const) {
    t.notOk(all.includes(secret), `the ${name} never appears in logs`);
    t.notOk(all.includes(secret.split('.')[2] ?? secret), `no part of the ${name}'s signature appears`);
  }
  t.match(all, /\[redacted\]/);
  t.ok(lines.some((l) => /"conn":"[\w-]+"/.test(l) && /connection authenticated/.test(l)), 'lines carry the connection id');
});
