import t from 'tap';
import { Writable } from 'node:stream';
import { createServer, defaultFeatures, generateSigningKey, PermissionScopes } from '../../src/index.js';
import { TokenAuthority } from '../../src/auth/tokens.js';
import { createLogger } from '../../src/core/logger.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';

// One server for the file, logging every level to `written`.
let written = '';
const sink = new Writable({ write(chunk, _enc, done) { written += String(chunk); done(); } });
const signingKey = generateSigningKey();
const server = await createServer(
  { config: { dev: true, server: { port: 0 }, auth: { signingKeys: [signingKey] }, limits: { maxConnectionsPerTokenId: 2 } }, logger: createLogger({ level: 'trace', destination: sink }) },
  defaultFeatures(),
);
t.teardown(() => server.close());

t.test('logging - structured lines with connection ids; tokens and keys never appear', async (t) => {
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

t.test('logging - a connection the server closes after a refusal is logged with its error code', async (t) => {
  const scope = PermissionScopes.topicPublishSubscribe('chat', '*');
  const from = written.length;
  // A token signed with another key, hello refused.
  const foreign = (await new TokenAuthority(server.config.auth, [generateSigningKey()], { now: () => Date.now() } as never).mintDisposableToken({ scope, expiresInSec: 60, tokenId: 'eve' })).token;
  const refused = await RawClient.connect(server.wsUrl);
  t.equal((await refused.request({ t: 'hello', versions: [1], token: foreign }))['e']?.code, 'AUTHENTICATION_ERROR');
  t.equal((await refused.waitClosed()).code, 4500);
  // Over a limit: a third connection of one tokenId (limits.maxConnectionsPerTokenId 2).
  const bob = await tokenFor(server, scope, { tokenId: 'bob' });
  const open = [await RawClient.open(server, bob), await RawClient.open(server, bob)];
  const third = await RawClient.connect(server.wsUrl);
  t.equal((await third.request({ t: 'hello', versions: [1], token: bob }))['e']?.cause, 'connections_limit_exceeded');
  t.equal((await third.waitClosed()).code, 4503);
  // A request before hello.
  const early = await RawClient.connect(server.wsUrl);
  t.equal((await early.request({ t: 'pub', cache: 'chat', topic: 'x', value: 'v' }))['e']?.code, 'AUTHENTICATION_ERROR');
  t.equal((await early.waitClosed()).code, 4502);
  for (const c of open) c.close();

  const lines = written.slice(from).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const closes = lines.filter((l) => l['msg'] === 'connection closed by the server');
  t.same(closes.map(({ level, close, code, cause }) => ({ level, close, code, cause })), [
    { level: 30, close: 'authentication_failed', code: 'AUTHENTICATION_ERROR', cause: undefined },
    { level: 30, close: 'policy', code: 'LIMIT_EXCEEDED_ERROR', cause: 'connections_limit_exceeded' },
    { level: 30, close: 'protocol_violation', code: 'AUTHENTICATION_ERROR', cause: undefined },
  ], 'one info line per close, with the ErrorCode (and cause) of the refusal it follows');
  t.equal(closes[1]?.['tokenId'], 'bob', 'and who it was, when the credential said');
  t.ok(closes.every((l) => typeof l['conn'] === 'string' && typeof l['reason'] === 'string'), 'the connection and the reason');
  const text = written.slice(from);
  for (const [name, secret] of [['foreign token', foreign], ['bob\'s token', bob]] as const) {
    t.notOk(text.includes(secret.split('.')[2]!), `no part of ${name}'s signature is logged`);
    t.notOk(text.includes(secret.split('.')[1]!), `nor its payload`);
  }
  t.notOk(lines.some((l) => l['msg'] === 'connection closed' && 'code' in l), 'a close code is never logged as `code`');
});
