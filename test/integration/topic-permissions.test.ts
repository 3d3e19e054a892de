import t from 'tap';
import { cache as momentoCache, pubsub } from '@gomomento/generated-types';
import { Metadata, credentials, makeGenericClientConstructor, status, type ServiceDefinition } from '@grpc/grpc-js';
import { startServer } from '../helpers/server.js';
import { startMomentoServer } from '../helpers/momento.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { SseReader } from '../helpers/sse.js';
import type { TopicRole, TopicSelector, CacheSelector, Scope } from '../../src/index.js';

// Every topic role × selector kind, against a target that matches and one that does not.
const roles: Array<[TopicRole, { pub: boolean; sub: boolean }]> = [
  ['publishsubscribe', { pub: true, sub: true }],
  ['publishonly', { pub: true, sub: false }],
  ['subscribeonly', { pub: false, sub: true }],
];
const selectors: Array<[string, CacheSelector, TopicSelector, Array<[string, string]>, Array<[string, string]>]> = [
  // name, cache selector, topic selector, targets allowed, targets refused (cache, topic)
  ['all caches, all topics', '*', '*', [['chat', 'x'], ['other', 'y']], []],
  ['cache by name, all topics', { name: 'chat' }, '*', [['chat', 'anything']], [['other', 'anything']]],
  ['cache as string, topic by name', 'chat', { name: 'lobby' }, [['chat', 'lobby']], [['chat', 'lobby2'], ['other', 'lobby']]],
  ['topic as string', 'chat', 'lobby', [['chat', 'lobby']], [['chat', 'Lobby']]],
  ['topic name prefix', 'chat', { namePrefix: 'room-' }, [['chat', 'room-1'], ['chat', 'room-']], [['chat', 'room'], ['chat', 'xroom-1']]],
  ['topic name suffix', 'chat', { nameSuffix: '-input' }, [['chat', 'r1-input']], [['chat', 'r1-input2'], ['chat', 'r1']]],
  // Names are opaque text matched exactly: "*" in the object form is one name, not a wildcard; no
  // path meaning for "..", no folding of look-alikes (Cyrillic о, full-width ＊), case or spaces.
  ['names "*" in the object form', { name: '*' }, { name: '*' }, [['*', '*']], [['chat', '*'], ['*', 'x'], ['*', '\uff0a']]],
  ['a name with ".." and look-alikes', 'chat', { name: 'room..1' }, [['chat', 'room..1']], [['chat', 'room.1'], ['chat', 'r\u043e\u043em..1'], ['chat', 'room..1 '], ['chat', 'room/../1']]],
  ['a prefix of 4-byte characters at the 255-byte edge', 'chat', { namePrefix: '\u{1F600}'.repeat(63) }, [['chat', `${'\u{1F600}'.repeat(63)}abc`]], [['chat', `${'\u{1F600}'.repeat(62)}abcd`]]],
];

t.test('permissions - every topic role × selector kind, allowed and refused with the exact code', async (t) => {
  const server = await startServer(t);
  for (const [role, can] of roles) {
    for (const [name, cache, topic, allowed, refused] of selectors) {
      const c = await RawClient.open(server, await tokenFor(server, { permissions: [{ role, cache, topic }] }));
      for (const [targetCache, targetTopic] of allowed) {
        const pub = await c.request({ t: 'pub', cache: targetCache, topic: targetTopic, value: 'v' });
        const sub = await c.request({ t: 'sub', cache: targetCache, topic: targetTopic });
        t.equal(pub['t'] === 'ok' ? 'ok' : pub['e']['code'], can.pub ? 'ok' : 'PERMISSION_ERROR', `${role} / ${name}: publish ${targetCache}/${targetTopic}`);
        t.equal(sub['t'] === 'ok' ? 'ok' : sub['e']['code'], can.sub ? 'ok' : 'PERMISSION_ERROR', `${role} / ${name}: subscribe ${targetCache}/${targetTopic}`);
      }
      for (const [targetCache, targetTopic] of refused) {
        const pub = await c.request({ t: 'pub', cache: targetCache, topic: targetTopic, value: 'v' });
        const sub = await c.request({ t: 'sub', cache: targetCache, topic: targetTopic });
        t.equal(pub['e']?.['code'], 'PERMISSION_ERROR', `${role} / ${name}: publish ${targetCache}/${targetTopic} refused`);
        t.equal(sub['e']?.['code'], 'PERMISSION_ERROR', `${role} / ${name}: subscribe ${targetCache}/${targetTopic} refused`);
      }
      c.close();
    }
  }
});

t.test('permissions - permissions add up', async (t) => {
  const server = await startServer(t);
  const c = await RawClient.open(server, await tokenFor(server, { permissions: [
    { role: 'publishonly', cache: 'chat', topic: 'in' },
    { role: 'subscribeonly', cache: 'chat', topic: 'out' },
  ] }));
  t.equal((await c.request({ t: 'pub', cache: 'chat', topic: 'in', value: 'v' }))['t'], 'ok');
  t.equal((await c.request({ t: 'sub', cache: 'chat', topic: 'out' }))['t'], 'ok');
  t.match((await c.request({ t: 'pub', cache: 'chat', topic: 'out', value: 'v' }))['e'], { code: 'PERMISSION_ERROR', message: /may not publish to topic "out" in cache "chat"/ });
  t.match((await c.request({ t: 'sub', cache: 'chat', topic: 'in' }))['e'], { code: 'PERMISSION_ERROR', message: /may not subscribe/ });
});

t.test('permissions - cache permissions do not grant topic access', async (t) => {
  const server = await startServer(t);
  const c = await RawClient.open(server, await tokenFor(server, { permissions: [{ role: 'readwrite', cache: '*' }] }));
  t.match((await c.request({ t: 'pub', cache: 'chat', topic: 'x', value: 'v' }))['e'], { code: 'PERMISSION_ERROR' });
  t.match((await c.request({ t: 'sub', cache: 'chat', topic: 'x' }))['e'], { code: 'PERMISSION_ERROR' });
});

/** What a scope allows does not depend on how it is asked (docs/tokens.md): every transport that
 * serves an operation gives each (scope, operation, target) the same answer, as a disposable token
 * and as an API key of the same scope. */
type Operation = 'publish' | 'subscribe' | 'presence' | 'read' | 'write';
const scopeRows: Array<[string, Scope, Array<[Operation, string, string, boolean]>]> = [
  ['subscribeonly on room-*', { permissions: [{ role: 'subscribeonly', cache: 'chat', topic: { namePrefix: 'room-' } }] }, [
    ['subscribe', 'chat', 'room-1', true], ['publish', 'chat', 'room-1', false], ['presence', 'chat', 'room-1', false],
    ['subscribe', 'chat', 'lobby', false], ['subscribe', 'other', 'room-1', false], ['read', 'chat', 'room-1', false],
  ]],
  ['publishonly with presence on room-1', { permissions: [{ role: 'publishonly', cache: 'chat', topic: 'room-1', presence: true }] }, [
    ['publish', 'chat', 'room-1', true], ['presence', 'chat', 'room-1', true], ['subscribe', 'chat', 'room-1', false],
    ['publish', 'chat', 'room-2', false], ['presence', 'chat', 'room-2', false],
  ]],
  ['publishsubscribe without presence', { permissions: [{ role: 'publishsubscribe', cache: 'chat', topic: '*' }] }, [
    ['publish', 'chat', 'a', true], ['subscribe', 'chat', 'a', true], ['presence', 'chat', 'a', false], ['write', 'chat', 'a', false],
  ]],
  ['readonly on keys k-* of chat', { permissions: [{ role: 'readonly', cache: 'chat', item: { keyPrefix: 'k-' } }] }, [
    ['read', 'chat', 'k-1', true], ['write', 'chat', 'k-1', false], ['read', 'chat', 'x', false], ['read', 'other', 'k-1', false],
    ['subscribe', 'chat', 'k-1', false], ['publish', 'chat', 'k-1', false],
  ]],
  ['writeonly on chat', { permissions: [{ role: 'writeonly', cache: 'chat' }] }, [
    ['write', 'chat', 'k', true], ['read', 'chat', 'k', false], ['write', 'other', 'k', false],
  ]],
];

/** 'ok', or the error code (gRPC statuses as the code they stand for). */
const answerOfStatus = (code: number) => (code === status.OK ? 'ok' : code === status.PERMISSION_DENIED ? 'PERMISSION_ERROR' : `gRPC ${status[code]}`);
const answerOfHttp = async (res: Response) => (res.ok ? 'ok' : ((await res.json()) as { error: { code: string } }).error.code);

/** A grpc-web-text call: 'ok' at its first message (a Subscribe never ends by itself), else the
 * status of its trailer. */
async function grpcWebAnswer(httpUrl: string, path: string, headers: Record<string, string>, message: Uint8Array): Promise<string> {
  const body = Buffer.alloc(5 + message.byteLength);
  body.writeUInt32BE(message.byteLength, 1);
  body.set(message, 5);
  const abort = new AbortController();
  const res = await fetch(`${httpUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/grpc-web-text', 'x-grpc-web': '1', ...headers }, body: body.toString('base64'), signal: abort.signal });
  const decoder = new TextDecoder();
  let text = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      // Each frame is base64 of its own; read again from the start as more arrives.
      let bytes = Buffer.alloc(0);
      for (const part of text.match(/[A-Za-z0-9+/]+={0,2}/g) ?? []) bytes = Buffer.concat([bytes, Buffer.from(part, 'base64')]);
      if (bytes.length < 5 || bytes.length < 5 + bytes.readUInt32BE(1)) continue;
      if (bytes[0] === 0) return 'ok';
      return answerOfStatus(Number(/grpc-status:(\d+)/.exec(bytes.subarray(5, 5 + bytes.readUInt32BE(1)).toString())?.[1]));
    }
    return 'no answer';
  } finally {
    abort.abort();
  }
}

t.test('permissions - every transport gives a scope the same answer', async (t) => {
  const server = await startMomentoServer(t);
  type Client = Record<string, (...args: unknown[]) => any> & { close(): void };
  const grpcClient = (definition: unknown, name: string) => {
    const Client = makeGenericClientConstructor(definition as ServiceDefinition, name);
    const client = new Client(`127.0.0.1:${server.momentoPort}`, credentials.createInsecure()) as unknown as Client;
    t.teardown(() => client.close());
    return client;
  };
  const scs = grpcClient(momentoCache.cache_client.UnimplementedScsService.definition, 'cache_client.Scs');
  const topics = grpcClient(pubsub.cache_client.pubsub.UnimplementedPubsubService.definition, 'cache_client.pubsub.Pubsub');
  const metadata = (token: string, cache: string) => {
    const md = new Metadata();
    md.set('authorization', token);
    md.set('cache', cache);
    return md;
  };
  const unary = (method: string, request: unknown, token: string, cache: string) => new Promise<string>((resolve) => {
    scs[method]!(request, metadata(token, cache), { deadline: Date.now() + 10_000 }, (e: { code: number } | null) => resolve(answerOfStatus(e ? e.code : status.OK)));
  });
  const ws = async (c: RawClient, frame: Record<string, unknown>) => {
    const reply = await c.request(frame);
    if (reply['t'] !== 'ok') return reply['e']['code'] as string;
    // Left as it was found: the next row subscribes again.
    if (frame['t'] === 'sub') await c.ok({ t: 'unsub', cache: frame['cache'], topic: frame['topic'] });
    return 'ok';
  };
  const http = (token: string, path: string, init: RequestInit = {}) =>
    fetch(`${server.httpUrl}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } }).then(answerOfHttp);
  const grpcWeb = (token: string, cache: string, path: string, message: { serialize(): Uint8Array }) =>
    grpcWebAnswer(server.httpUrl, path, { authorization: token, cache }, message.serialize());
  const topicRequest = (cache: string, name: string) => new pubsub.cache_client.pubsub._SubscriptionRequest({ cache_name: cache, topic: name });
  const publishRequest = (cache: string, name: string) =>
    new pubsub.cache_client.pubsub._PublishRequest({ cache_name: cache, topic: name, value: new pubsub.cache_client.pubsub._TopicValue({ text: 'v' }) });
  const getRequest = (name: string) => new momentoCache.cache_client._GetRequest({ cache_key: Buffer.from(name) });
  const setRequest = (name: string) => new momentoCache.cache_client._SetRequest({ cache_key: Buffer.from(name), cache_body: Buffer.from('v'), ttl_milliseconds: 60_000 });
  const e = encodeURIComponent;

  type Ask = (token: string, c: RawClient, cache: string, name: string) => Promise<string>;
  const transports: Record<Operation, Record<string, Ask>> = {
    publish: {
      websocket: (_, c, cache, name) => ws(c, { t: 'pub', cache, topic: name, value: 'v' }),
      http: (token, _, cache, name) => http(token, `/v1/topics/${e(cache)}/${e(name)}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'v' }),
      grpc: (token, _, cache, name) => new Promise((resolve) => {
        topics['Publish']!(publishRequest(cache, name), metadata(token, cache), { deadline: Date.now() + 10_000 }, (err: { code: number } | null) => resolve(answerOfStatus(err ? err.code : status.OK)));
      }),
      'grpc-web': (token, _, cache, name) => grpcWeb(token, cache, '/cache_client.pubsub.Pubsub/Publish', publishRequest(cache, name)),
    },
    subscribe: {
      websocket: (_, c, cache, name) => ws(c, { t: 'sub', cache, topic: name }),
      sse: async (token, _, cache, name) => {
        const sse = await SseReader.open(`${server.httpUrl}/v1/sse?cache=${e(cache)}&topic=${e(name)}`, { authorization: `Bearer ${token}` });
        sse.close();
        return sse.status === 200 ? 'ok' : sse.errorBody.error.code;
      },
      'long-poll': (token, _, cache, name) => http(token, `/v1/poll?cache=${e(cache)}&topic=${e(name)}&waitMs=0`),
      grpc: (token, _, cache, name) => new Promise((resolve) => {
        const call = topics['Subscribe']!(topicRequest(cache, name), metadata(token, cache));
        call.on('data', () => { resolve('ok'); call.cancel(); });
        call.on('error', (err: { code: number }) => resolve(answerOfStatus(err.code)));
      }),
      'grpc-web': (token, _, cache, name) => grpcWeb(token, cache, '/cache_client.pubsub.Pubsub/Subscribe', topicRequest(cache, name)),
    },
    presence: {
      websocket: (_, c, cache, name) => ws(c, { t: 'presence', cache, topic: name }),
      http: (token, _, cache, name) => http(token, `/v1/presence/${e(cache)}/${e(name)}`),
    },
    read: {
      websocket: (_, c, cache, name) => ws(c, { t: 'get', cache, key: name }),
      http: (token, _, cache, name) => http(token, `/v1/cache/${e(cache)}/get`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: name }) }),
      grpc: (token, _, cache, name) => unary('Get', getRequest(name), token, cache),
      'grpc-web': (token, _, cache, name) => grpcWeb(token, cache, '/cache_client.Scs/Get', getRequest(name)),
    },
    write: {
      websocket: (_, c, cache, name) => ws(c, { t: 'set', cache, key: name, value: 'v' }),
      http: (token, _, cache, name) => http(token, `/v1/cache/${e(cache)}/set`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: name, value: 'v' }) }),
      grpc: (token, _, cache, name) => unary('Set', setRequest(name), token, cache),
      'grpc-web': (token, _, cache, name) => grpcWeb(token, cache, '/cache_client.Scs/Set', setRequest(name)),
    },
  };

  for (const [description, scope, cases] of scopeRows) {
    const asKinds = {
      'disposable token': await tokenFor(server, scope),
      'API key': (await server.auth.mintApiKey({ scope, expiresInSec: null })).token,
    };
    for (const [kind, token] of Object.entries(asKinds)) {
      const c = await RawClient.open(server, token);
      for (const [operation, cache, name, allowed] of cases) {
        for (const [transport, ask] of Object.entries(transports[operation])) {
          t.equal(await ask(token, c, cache, name), allowed ? 'ok' : 'PERMISSION_ERROR', `${description} (${kind}): ${operation} ${cache}/${name} over ${transport}`);
        }
      }
      c.close();
    }
  }
});
