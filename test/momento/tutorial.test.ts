/** The Momento chat tutorial's flow, written against Momento's names: once with tidings/client (only
 * the import line and the endpoint differ from the tutorial), and once with official-SDK participants
 * around a tidings/client moderator (the moderation-input pattern across both SDKs). */
import t from 'tap';
import WebSocket from 'ws';
import * as official from '@gomomento/sdk';
import {
  AllDataReadWrite, AuthClient, CacheClient, CacheGet, CacheListFetch, CacheRole, Configurations, Connection, CredentialProvider, ExpiresIn,
  GenerateDisposableToken, MomentoErrorCode, Moderator, SdkError, TopicClient, TopicConfigurations, TopicPublish, TopicRole, TopicSubscribe,
  type TopicItem, type WebSocketConstructor,
} from '../../src/client/index.js';
import { PermissionScopes } from '../../src/index.js';
import { collector } from '../helpers/sdk.js';
import { apiKeyFor, errorCode, momentoClients, startMomentoServer } from '../helpers/momento.js';

const webSocket = WebSocket as unknown as WebSocketConstructor;

t.test('tutorial with tidings/client: token route, subscriber, history list, Momento names and toString()', async (t) => {
  const server = await startMomentoServer(t);
  const apiKey = await apiKeyFor(server);
  // Backend: mint a token for a browser user (the tutorial's token route).
  const credentialProvider = CredentialProvider.fromString({ apiKey, endpointOverrides: { baseEndpoint: server.httpUrl } });
  const authClient = new AuthClient({ credentialProvider });
  const tokenResponse = await authClient.generateDisposableToken(
    { permissions: [{ role: TopicRole.PublishSubscribe, cache: 'chat', topic: '*' }, { role: CacheRole.ReadWrite, cache: 'chat' }] },
    ExpiresIn.minutes(30), { tokenId: 'user:ann' },
  );
  t.type(tokenResponse, GenerateDisposableToken.Success);
  const { authToken, expiresAt } = tokenResponse as GenerateDisposableToken.Success;
  t.ok(expiresAt.doesExpire() && expiresAt.epoch() > Date.now() / 1000);
  t.match(String(tokenResponse), /^Success: token expiring at \d{4}-/);
  t.notMatch(String(tokenResponse), authToken, 'the token itself is never printed');

  // Browser: the tutorial's clients, built the Momento way.
  const browserCredentials = CredentialProvider.fromString({ authToken, endpointOverrides: { baseEndpoint: server.httpUrl } });
  const topicClient = new TopicClient({ configuration: TopicConfigurations.Browser.latest(), credentialProvider: browserCredentials, webSocket });
  const cacheClient = await CacheClient.create({ configuration: Configurations.Browser.v1(), credentialProvider: browserCredentials, webSocket, defaultTtlSeconds: 60 });
  t.teardown(() => { topicClient.connection.close(); cacheClient.close(); });
  const items = collector<TopicItem>();
  const sub = await topicClient.subscribe('chat', 'general', { onItem: items.push, onError: () => {} });
  t.type(sub, TopicSubscribe.Subscription);
  const message = JSON.stringify({ user: 'ann', text: 'hello everyone in the room' });
  const published = await topicClient.publish('chat', 'general', message);
  t.type(published, TopicPublish.Success);
  t.match(published.toString(), /^Success/, 'responses print like Momento’s, not [object Object]');
  const [item] = await items.until(1);
  t.equal(item!.valueString(), message);
  t.equal(item!.tokenId(), 'user:ann');
  const pushed = await cacheClient.listConcatenateBack('chat', 'general', [message], { truncateFrontToSize: 100 });
  t.equal(pushed.toString(), 'Success: list length 1');
  const history = await cacheClient.listFetch('chat', 'general');
  t.type(history, CacheListFetch.Hit);
  t.equal(history.toString(), 'Hit: 1 element');
  t.equal((await cacheClient.get('chat', 'missing')).toString(), 'Miss');
  t.type(await cacheClient.get('chat', 'missing'), CacheGet.Miss);
  const denied = await cacheClient.get('other', 'k');
  t.equal(errorCode(denied), MomentoErrorCode.PERMISSION_ERROR);
  t.type((denied as { innerException(): unknown }).innerException(), SdkError);
  t.match(denied.toString(), /^PERMISSION_ERROR: /);
  t.same(AllDataReadWrite.permissions.map((p) => p.role).sort(), ['publishsubscribe', 'readwrite']);

  // The Momento shape's other inputs: `url` wins over the provider's endpoint, the configuration's
  // timeout and throwOnErrors reach the connection, and clients on it inherit throwOnErrors.
  const elsewhere = CredentialProvider.fromString({ authToken, endpointOverrides: { baseEndpoint: 'http://127.0.0.1:1' } });
  const strict = new TopicClient({ configuration: TopicConfigurations.Browser.latest().withClientTimeoutMillis(4321).withThrowOnErrors(true), credentialProvider: elsewhere, url: server.httpUrl, webSocket });
  t.teardown(() => strict.close());
  t.equal(strict.connection.requestTimeoutMs, 4321, 'the configuration\'s client timeout');
  t.type(await strict.publish('chat', 'general', 'via url'), TopicPublish.Success, 'connected to `url`, not the provider\'s endpoint');
  await t.rejects(strict.publish('other', 'general', 'x'), { code: MomentoErrorCode.PERMISSION_ERROR }, 'the configuration\'s throwOnErrors');
  await t.rejects(new CacheClient({ connection: strict.connection }).get('other', 'k'), { code: MomentoErrorCode.PERMISSION_ERROR }, 'a client on the connection inherits it');
  const badKey = CredentialProvider.fromString({ apiKey: 'not-a-key', endpointOverrides: { baseEndpoint: server.httpUrl } });
  await t.rejects(new AuthClient({ credentialProvider: badKey, configuration: Configurations.Laptop.v1().withThrowOnErrors(true) }).generateDisposableToken(AllDataReadWrite, ExpiresIn.minutes(1)),
    { code: MomentoErrorCode.AUTHENTICATION_ERROR }, 'AuthClient takes throwOnErrors from the configuration');
});

t.test('tutorial across SDKs: official-SDK users publish to -input, a tidings/client moderator accepts, official SDK reads the chat and its history', async (t) => {
  const server = await startMomentoServer(t);
  const moderatorToken = await server.auth.mintApiKey({ scope: PermissionScopes.moderator('chat'), expiresInSec: null, tokenId: 'moderator' });
  const connection = new Connection({ url: server.wsUrl, token: moderatorToken.token, webSocket });
  t.teardown(() => connection.close());
  const moderator = await Moderator.start({
    connection, cache: 'chat',
    moderate: ({ value, tokenId }) => (String(value).includes('spam') ? { reject: 'spam' } : { accept: `${tokenId}: ${String(value)}` }),
  });
  t.teardown(() => moderator.stop());

  // Participants use the official SDK with a chatParticipant token.
  const token = await server.auth.mintDisposableToken({ scope: PermissionScopes.chatParticipant('chat', 'room1'), expiresInSec: 300, tokenId: 'user:bo' });
  const { topics, cache } = await momentoClients(t, server, token.token);
  const items = collector<official.TopicItem>();
  const sub = await topics.subscribe('chat', 'room1', { onItem: items.push });
  t.type(sub, official.TopicSubscribe.Subscription);
  t.type(await topics.publish('chat', 'room1-input', 'hi all'), official.TopicPublish.Success);
  t.type(await topics.publish('chat', 'room1-input', 'buy spam'), official.TopicPublish.Success);
  t.type(await topics.publish('chat', 'room1-input', 'bye'), official.TopicPublish.Success);
  t.equal(errorCode(await topics.publish('chat', 'room1', 'skip moderation')), official.MomentoErrorCode.PERMISSION_ERROR);
  const accepted = await items.until(2);
  t.same(accepted.map((i) => i.valueString()), ['user:bo: hi all', 'user:bo: bye'], 'the rejected item never reaches the chat');
  t.same(accepted.map((i) => i.tokenId()), ['user:bo', 'user:bo'], 'the sender identity survives moderation');
  const history = await cache.listFetch('chat', 'room1');
  t.type(history, official.CacheListFetch.Hit);
  t.same((history as official.CacheListFetch.Hit).valueListString(), ['user:bo: hi all', 'user:bo: bye']);
  (sub as official.TopicSubscribe.Subscription).unsubscribe();
});
