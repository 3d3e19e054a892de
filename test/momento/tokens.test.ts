/** Conformance: AuthClient.generateDisposableToken of the official SDK against Tidings, then the
 * minted token used by the SDK; a raw request whose permissions select no cache or topic is
 * refused, one with super_user, a topic name prefix or a permit-none role minted as it says; and the Momento-shaped credentials the CLI prints. */
import t from 'tap';
import {
  AllDataReadWrite, CacheGet, CredentialProvider, DisposableTokenScopes, ExpiresIn, GenerateDisposableToken, MomentoErrorCode,
} from '@gomomento/sdk';
import { token } from '@gomomento/generated-types';
import { permission_messages as perms } from '@gomomento/generated-types/dist/permissionmessages.js';
import { Metadata, credentials, makeGenericClientConstructor, status, type ServiceDefinition } from '@grpc/grpc-js';
import { decodeMomentoCredential } from '../../src/index.js';
import { apiKeyFor, errorCode, momentoClients, startMomentoServer } from '../helpers/momento.js';
import { SDKS, kind } from '../helpers/momento-sdks.js';
import { cliInProcess } from '../helpers/cli.js';

for (const sdk of SDKS) {
  const { AllDataReadWrite, DisposableTokenScopes, ExpiresIn } = sdk.lib;
  t.test(`${sdk.name} - generateDisposableToken mints a scoped token the SDK then uses`, async (t) => {
    const server = await startMomentoServer(t);
    const admin = await sdk.clients(t, server, await apiKeyFor(server));
    const minted = await admin.auth.generateDisposableToken(
      DisposableTokenScopes.topicPublishSubscribe('chat', 'room1'), ExpiresIn.minutes(5), { tokenId: 'user:bob' },
    );
    t.equal(kind(minted), 'Success');
    const success = minted as GenerateDisposableToken.Success;
    t.ok(success.expiresAt.epoch() > Date.now() / 1000, 'expiresAt is in the future');
    const inner = decodeMomentoCredential(success.authToken);
    t.ok(inner, 'the SDK wraps our api_key and endpoint in its base64 form');
    t.equal(inner!.endpoint, `127.0.0.1:${server.momentoPort}`);
    const grant = await server.auth.verify(inner!.apiKey);
    t.equal(grant.kind, 'disposable');
    t.equal(grant.tokenId, 'user:bob');

    const user = await sdk.clients(t, server, inner!.apiKey);
    t.equal(kind(await user.topics.publish('chat', 'room1', 'hi')), 'Success');
    t.equal(errorCode(await user.topics.publish('chat', 'room2', 'hi')), MomentoErrorCode.PERMISSION_ERROR);
    t.equal(errorCode(await user.topics.publish('chat', 'room10', 'hi')), MomentoErrorCode.PERMISSION_ERROR, 'a topic name is exact, not a prefix');
    t.equal(errorCode(await user.cache.get('chat', 'k')), MomentoErrorCode.PERMISSION_ERROR);

    // AllDataReadWrite carries a function permission too; Tidings has no functions and ignores it.
    const all = await admin.auth.generateDisposableToken(AllDataReadWrite, ExpiresIn.minutes(1));
    t.equal(kind(all), 'Success');
    const allClient = await sdk.clients(t, server, decodeMomentoCredential((all as GenerateDisposableToken.Success).authToken)!.apiKey);
    t.equal(kind(await allClient.cache.get('chat', 'k')), 'Miss');
    // A key prefix selector arrives as bytes on the wire.
    const prefixed = await admin.auth.generateDisposableToken(DisposableTokenScopes.cacheKeyPrefixReadWrite('app', 'user-'), ExpiresIn.minutes(1));
    const prefixClient = await sdk.clients(t, server, decodeMomentoCredential((prefixed as GenerateDisposableToken.Success).authToken)!.apiKey);
    t.equal(kind(await prefixClient.cache.get('app', 'user-1')), 'Miss');
    t.equal(errorCode(await prefixClient.cache.get('app', 'admin-1')), MomentoErrorCode.PERMISSION_ERROR);
    const keyed = await admin.auth.generateDisposableToken(DisposableTokenScopes.cacheKeyReadWrite('app', 'user-1'), ExpiresIn.minutes(1));
    const keyClient = await sdk.clients(t, server, decodeMomentoCredential((keyed as GenerateDisposableToken.Success).authToken)!.apiKey);
    t.equal(kind(await keyClient.cache.get('app', 'user-1')), 'Miss');
    t.equal(errorCode(await keyClient.cache.get('app', 'user-10')), MomentoErrorCode.PERMISSION_ERROR, 'a key selector is exact, not a prefix');
  });
}

t.test('momento tokens - minting is refused for a disposable token, a wider scope, or an expiry past the limit', async (t) => {
  const server = await startMomentoServer(t, { config: { auth: { maxTokenTtlSec: 3600 } } });
  const narrowKey = await server.auth.mintApiKey({ scope: DisposableTokenScopes.topicPublishSubscribe('chat', 'room1') as never, expiresInSec: null });
  const narrow = await momentoClients(t, server, narrowKey.token);
  const wider = await narrow.auth.generateDisposableToken(DisposableTokenScopes.topicPublishSubscribe('chat', 'room2'), ExpiresIn.minutes(1));
  t.equal(errorCode(wider), MomentoErrorCode.PERMISSION_ERROR);
  const admin = await momentoClients(t, server, await apiKeyFor(server));
  t.equal(errorCode(await admin.auth.generateDisposableToken(AllDataReadWrite, ExpiresIn.hours(2))), MomentoErrorCode.INVALID_ARGUMENT_ERROR);
  const token = await server.auth.mintDisposableToken({ scope: { permissions: [{ role: 'publishsubscribe', cache: '*', topic: '*' }] }, expiresInSec: 60 });
  const tokenClient = await momentoClients(t, server, token.token);
  t.equal(errorCode(await tokenClient.auth.generateDisposableToken(AllDataReadWrite, ExpiresIn.minutes(1))), MomentoErrorCode.PERMISSION_ERROR);
});

t.test('momento tokens - the CLI prints Momento-shaped API keys and tokens the SDK accepts', async (t) => {
  const server = await startMomentoServer(t);
  const env = { TIDINGS_SIGNING_KEY: server.config.auth.signingKeys[0]!, TIDINGS_MOMENTO_ENDPOINT: `127.0.0.1:${server.momentoPort}` };
  // In process (test/helpers/cli.ts): what the command prints is what this observes.
  const cli = async (args: string[]) => {
    const run = await cliInProcess(args, env);
    t.equal(run.status, 0, `tidings ${args[0]}: ${run.stderr}`);
    return run;
  };
  const key = (await cli(['api-key', '--momento', '--token-id', 'ops'])).stdout.trim();
  const decoded = decodeMomentoCredential(key);
  t.ok(decoded, 'standard base64 of {endpoint, api_key}');
  t.equal(decoded!.endpoint, `127.0.0.1:${server.momentoPort}`);
  t.doesNotThrow(() => CredentialProvider.fromString({ apiKey: key }), 'the SDK parses it without overrides too');
  const token = (await cli(['token', '--momento', '--scope', '{"permissions":[{"role":"readonly","cache":"app"}]}', '--expires-in', '60'])).stdout.trim();
  const client = await momentoClients(t, server, decodeMomentoCredential(token)!.apiKey);
  t.type(await client.cache.get('app', 'k'), CacheGet.Miss);
  t.equal(errorCode(await client.cache.set('app', 'k', 'v')), MomentoErrorCode.PERMISSION_ERROR);
});

t.test('momento tokens - POST /v1/tokens with momento: true answers a token fromDisposableToken accepts', async (t) => {
  const server = await startMomentoServer(t);
  const apiKey = await apiKeyFor(server);
  const mint = (body: object) => fetch(`${server.httpUrl}/v1/tokens`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}` }, body: JSON.stringify(body) });
  const res = await mint({ scope: { permissions: [{ role: 'readwrite', cache: 'app' }] }, expiresInSeconds: 60, momento: true });
  t.equal(res.status, 201);
  const { authToken } = await res.json() as { authToken: string };
  const endpoint = `127.0.0.1:${server.momentoPort}`;
  const credentials = CredentialProvider.fromDisposableToken({
    authToken, endpointOverrides: { cacheEndpoint: endpoint, controlEndpoint: endpoint, tokenEndpoint: endpoint, secureConnection: false },
  });
  const { CacheClient, Configurations, NoopMomentoLoggerFactory } = await import('@gomomento/sdk');
  const cache = await CacheClient.create({ configuration: Configurations.Laptop.v1(new NoopMomentoLoggerFactory()), credentialProvider: credentials, defaultTtlSeconds: 60 });
  t.teardown(() => cache.close());
  await cache.set('app', 'k', 'v');
  t.equal((await cache.get('app', 'k')).value(), 'v');
  t.equal(errorCode(await cache.get('other', 'k')), MomentoErrorCode.PERMISSION_ERROR);
});

t.test('momento tokens - a cache or topic permission that selects no cache or topic grants nothing; a scope of only such is refused; super_user, topic name prefixes and permit-none roles', async (t) => {
  const server = await startMomentoServer(t);
  const Client = makeGenericClientConstructor(token.token.UnimplementedTokenService.definition as unknown as ServiceDefinition, 'Token');
  const client = new Client(`127.0.0.1:${server.momentoPort}`, credentials.createInsecure()) as unknown as Record<string, (...args: unknown[]) => unknown>;
  t.teardown(() => (client as unknown as { close(): void }).close());
  const apiKey = await apiKeyFor(server);
  const P = perms.PermissionsType;
  const mintWith = (permissions: InstanceType<typeof perms.Permissions>) => new Promise<{ code: number; details?: string; apiKey?: string }>((resolve) => {
    const request = new token.token._GenerateDisposableTokenRequest({
      auth_token: apiKey, expires: new token.token._GenerateDisposableTokenRequest.Expires({ valid_for_seconds: 60 }), permissions,
    });
    client['GenerateDisposableToken']!(request, new Metadata(), (e: { code: number; details: string } | null, reply?: InstanceType<typeof token.token._GenerateDisposableTokenResponse>) =>
      resolve(e ? { code: e.code, details: e.details } : { code: status.OK, apiKey: reply!.api_key }));
  });
  const mint = (...permissions: InstanceType<typeof perms.PermissionsType>[]) => mintWith(new perms.Permissions({ explicit: new perms.ExplicitPermissions({ permissions }) }));
  // The SDKs always name one; read as "any", these would be tokens for every cache or topic.
  const refused = { code: status.INVALID_ARGUMENT, details: /would grant nothing Tidings serves/ };
  t.match(await mint(new P({ cache_permissions: new P.CachePermissions({ role: perms.CacheRole.CacheReadWrite }) })), refused, 'a cache permission with no cache');
  t.match(await mint(new P({ topic_permissions: new P.TopicPermissions({ role: perms.TopicRole.TopicReadWrite, cache_selector: new P.CacheSelector({ cache_name: 'chat' }) }) })), refused, 'a topic permission with no topic');

  // What no SDK method sends, read as the protobuf says: super_user (the oneof's enum 0) is every
  // cache and topic, a topic name prefix selects every topic it starts, and a "permit none" role
  // grants nothing beside the others (not a refused role).
  const superUser = await mintWith(new perms.Permissions({ super_user: perms.SuperUserPermissions.SuperUser }));
  t.equal(superUser.code, status.OK, `super_user: ${superUser.details ?? 'minted'}`);
  const all = (await server.auth.verify(superUser.apiKey!)).permissions;
  t.same([all.allowsCache('write', 'any', 'k'), all.allowsTopic('publish', 'any', 't')], [true, true], 'as AllDataReadWrite');
  const prefixed = await mint(new P({ topic_permissions: new P.TopicPermissions({
    role: perms.TopicRole.TopicWriteOnly, cache_selector: new P.CacheSelector({ cache_name: 'chat' }), topic_selector: new P.TopicSelector({ topic_name_prefix: 'room-' }),
  }) }));
  t.equal(prefixed.code, status.OK, `a topic name prefix: ${prefixed.details ?? 'minted'}`);
  const byPrefix = (await server.auth.verify(prefixed.apiKey!)).permissions;
  t.same([byPrefix.allowsTopic('publish', 'chat', 'room-1'), byPrefix.allowsTopic('publish', 'chat', 'lobby'), byPrefix.allowsTopic('subscribe', 'chat', 'room-1')], [true, false, false],
    'publish to every topic starting room-, nothing else');
  const withNone = await mint(
    new P({ cache_permissions: new P.CachePermissions({ role: perms.CacheRole.CachePermitNone, cache_selector: new P.CacheSelector({ cache_name: 'app' }) }) }),
    new P({ topic_permissions: new P.TopicPermissions({ role: perms.TopicRole.TopicPermitNone, cache_selector: new P.CacheSelector({ cache_name: 'chat' }), topic_selector: new P.TopicSelector({ topic_name: 'room' }) }) }),
    new P({ cache_permissions: new P.CachePermissions({ role: perms.CacheRole.CacheReadOnly, cache_selector: new P.CacheSelector({ cache_name: 'chat' }) }) }),
  );
  t.equal(withNone.code, status.OK, `permit-none cache and topic roles beside a read-only one: ${withNone.details ?? 'minted'}`);
  const granted = (await server.auth.verify(withNone.apiKey!)).permissions;
  t.same([granted.allowsCache('read', 'chat', 'k'), granted.allowsCache('write', 'chat', 'k'), granted.allowsCache('read', 'app', 'k'), granted.allowsTopic('subscribe', 'chat', 'room')], [true, false, false, false], 'read on chat only');
});
