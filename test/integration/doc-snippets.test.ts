/** The JavaScript and TypeScript snippets of the docs run as written against a real server (the
 * README's are run by readme.test.ts). A snippet is a fragment: its imports are checked (every name
 * it imports is one its module exports) and bound, the placeholders it leaves to the reader
 * (`topics`, `show`, `tokenProvider`, the broker's URL) are given here, and a short driver after it
 * checks that it did what its doc says. Every snippet of the docs listed has a driver here or a
 * reason it is not run, so a new one cannot be left out silently. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import * as crypto from 'node:crypto';
import { transformSync } from 'esbuild';
import WebSocket from 'ws';
import * as msgpackr from 'msgpackr';
import webpush from 'web-push';
import * as momentoSdk from '@gomomento/sdk';
import * as sdk from '../../src/client/index.js';
import { encodeMomentoCredential, PermissionScopes, type TidingsServer } from '../../src/index.js';
import { startServer } from '../helpers/server.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { waitFor } from '../helpers/wait.js';

const DOCS = ['client.md', 'presence.md', 'history.md', 'moderation.md', 'webhooks.md', 'push.md', 'http-api.md', 'momento-compat.md', 'tokens.md'];

interface Snippet { doc: string; line: number; code: string }

function snippets(doc: string): Snippet[] {
  const text = readFileSync(new URL(`../../docs/${doc}`, import.meta.url), 'utf8');
  return [...text.matchAll(/^```(?:js|ts)\n([\s\S]*?)^```$/gm)].map((m) => ({ doc, line: text.slice(0, m.index).split('\n').length, code: m[1]! }));
}

/** What a snippet's imports resolve to: the SDK under both of its names, and the packages the docs use. */
const MODULES: Record<string, Record<string, unknown>> = {
  'tidings/client': sdk,
  '/sdk/tidings.js': sdk,
  ws: { default: WebSocket },
  msgpackr,
  'node:crypto': crypto,
  '@gomomento/sdk': momentoSdk,
};

/** The snippet as the body of an async function: imports checked and turned into bindings, types
 * stripped, `export` dropped, and the driver in the same block (so it sees what the snippet declared,
 * and the snippet's own declarations may shadow the placeholders). */
function compile(snippet: Snippet, driver: string): string {
  const bindings = new Map<string, string>();
  const code = snippet.code.replace(/^import\s+(.+?)\s+from\s+'([^']+)';.*$/gm, (_line, what: string, from: string) => {
    const module = MODULES[from];
    if (!module) throw new Error(`${snippet.doc}:${snippet.line} imports '${from}', which this test does not provide`);
    const named = /^\{(.*)\}$/.exec(what.trim());
    const imports = named
      ? named[1]!.split(',').map((s) => s.trim()).filter(Boolean).map((s) => { const [name, local] = s.split(/\s+as\s+/); return { name: name!, local: local ?? name! }; })
      : [{ name: 'default', local: what.trim() }];
    for (const { name, local } of imports) {
      if (!(name in module)) throw new Error(`${snippet.doc}:${snippet.line} imports ${name} from '${from}', which does not export it`);
      bindings.set(local, `__modules[${JSON.stringify(from)}][${JSON.stringify(name)}]`);
    }
    return '';
  }).replace(/^export /gm, '');
  const js = transformSync(`${code}\n${driver}`, { loader: 'ts' }).code;
  return `'use strict';\n{\n${[...bindings].map(([local, expr]) => `const ${local} = ${expr};`).join('\n')}\n${js}\n}`;
}

type Context = Record<string, unknown>;
const AsyncFunction = (async () => {}).constructor as new (...args: string[]) => (...values: unknown[]) => Promise<void>;

async function run(snippet: Snippet, driver: string, context: Context): Promise<void> {
  const names = Object.keys(context);
  const fn = new AsyncFunction('__modules', ...names, compile(snippet, driver));
  await fn(MODULES, ...names.map((n) => context[n]));
}

interface Case {
  /** A string that identifies the snippet within its doc. */
  marks: string;
  /** Literal text of the snippet replaced before it runs (the doc's example URLs, for the test server's). */
  replace?: Array<[string, string]>;
  /** Placeholders the snippet uses without defining them. */
  context?: (env: Env) => Context | Promise<Context>;
  /** Runs after the snippet, in its scope: checks what the doc says it does. */
  driver?: string;
  /** Not run, and why. */
  skip?: string;
}

interface Env {
  server: TidingsServer;
  apiKey: string;
  /** A disposable token for tokenId `doc-reader`: publish, subscribe and presence on every topic of
   * cache `chat`, read and write its items. */
  token: string;
  logs: string[];
  /** SDK connections made by `connect` (a snippet that does not close its own): closed at the end. */
  opened: Array<{ close(): void }>;
  /** What the webhook receiver got, and the secret it signs with. */
  hooks: HttpReceiver;
  hookSecret: string;
}

/** Shared placeholders: a console that records, the SDK's names (fragments use them unimported),
 * helpers for drivers (`__` names), and the UI functions snippets call. */
function baseContext(env: Env): Context {
  const log = (...args: unknown[]) => { env.logs.push(args.map(String).join(' ')); };
  const noop = () => undefined;
  return {
    ...Object.fromEntries(Object.entries(sdk).filter(([name]) => /^[A-Za-z_$][\w$]*$/.test(name))),
    connect: (options: sdk.ConnectionOptions) => { const client = sdk.connect(options); env.opened.push(client); return client; },
    console: { log, warn: log, error: log, info: log },
    show: log, banner: noop, showBanner: noop, hideBanner: noop, showError: log, removeMessage: noop,
    __waitFor: waitFor, __logs: env.logs, __env: env,
    __assert: (condition: unknown, message: string) => { if (!condition) throw new Error(`driver: ${message}`); },
  };
}

/** A connected SDK for snippets that start from `topics`, `cache`, `connection` or `notify`. */
function sdkContext(env: Env, token = env.token): Context {
  const client = sdk.connect({ url: env.server.httpUrl, token, webSocket: WebSocket as unknown as sdk.WebSocketConstructor });
  env.opened.push(client);
  return { ...client };
}

/** A disposable token like env.token, for another tokenId. */
async function tokenFor(env: Env, tokenId: string): Promise<string> {
  return (await env.server.auth.mintDisposableToken({ scope: readerScope, expiresInSec: 600, tokenId })).token;
}

const readerScope = PermissionScopes.combine(
  { permissions: [{ role: 'publishsubscribe', cache: { name: 'chat' }, topic: '*', presence: true }] },
  PermissionScopes.cacheReadWrite('chat'),
);

const KEYS = {
  p256dh: 'BIgPXi7b231-iqYWXAhpKikvjzZxkh7y5JbAjpHx8wHYW4UuhI3i8FUQflIW7K4kxM2y7GIfbOXbV3rRgqdhwxM',
  auth: '24YqVcAWKHy6LRCRs9j_9w',
};

const CASES: Record<string, Case[]> = {
  'client.md': [
    { marks: "import { connect } from 'tidings/client';", driver: "__assert(typeof connect === 'function' && typeof TopicPublish.Error === 'function' && typeof CacheListFetch.Hit === 'function', 'the SDK names');" },
    {
      marks: "tokenProvider: async () => (await fetch('/my-backend/token')).text()",
      replace: [['https://broker.example', '${url}']],
      context: (env) => ({
        WebSocket,
        fetch: async (path: string) => { if (path !== '/my-backend/token') throw new Error(`fetch ${path}`); return new Response(env.token); },
      }),
      driver: "await connection.ready(); __assert(connection.status.state === 'open', 'open'); __assert(typeof topics.subscribe === 'function' && typeof cache.get === 'function', 'clients'); close(); __assert(connection.status.state === 'closed', 'close() closes it');",
    },
    { marks: 'connection.onStatus((s) =>', context: sdkContext, driver: "__assert(connection.status.state === 'open', 'ready() waited for open');" },
    {
      marks: "transport: 'http' });",
      replace: [['https://broker.example', '${url}']],
      context: (env) => ({ tokenProvider: async () => env.token }),
      driver: "__env.opened.push(topics.connection); const r = await topics.publish('chat', 'over-http', 'hi'); __assert(r.type === 'Success', String(r)); __assert(topics.connection.transport === 'http', topics.connection.transport);",
    },
    {
      marks: "const sub = await topics.subscribe('chat', 'room-1', {\n  onItem",
      context: (env) => ({ ...sdkContext(env), savedPosition: undefined }),
      driver: "__assert(res.type === 'Success', String(res)); __assert(typeof sub.lastPosition === 'function', 'lastPosition');",
    },
    {
      marks: 'presence: true,                              // also stream',
      // A user of its own: doc-reader, subscribed to room-1 by the snippet before, may still be
      // within its leave grace there, and a return within the grace is no new join (presence.md).
      context: async (env) => sdkContext(env, await tokenFor(env, 'doc-presence')),
      driver: "__assert(r.type === 'Success' && r.members.some((m) => m.tokenId === 'doc-presence'), JSON.stringify(r)); await __waitFor('the join', () => __logs.includes('joined doc-presence')); sub.unsubscribe();",
    },
    {
      marks: 'await notify.follow(',
      context: (env) => ({ ...sdkContext(env), subscription: { toJSON: () => ({ endpoint: 'https://push.example.com/send/doc', keys: KEYS }) }, endpoint: 'https://push.example.com/send/doc' }),
      driver: "__assert(typeof key.publicKey === 'string' && key.publicKey.length > 80, String(key));",
    },
    {
      marks: 'await cache.listPushBack(',
      context: sdkContext,
      driver: "__assert(history instanceof CacheListFetch.Hit && history.valueListString().at(-1) === 'hi' && history.items?.at(-1)?.value === 'hi', String(history));",
    },
    {
      marks: "res = await cache.increment('chat', 'page-views', 1, { idempotencyKey: res.idempotencyKey() });",
      context: sdkContext,
      driver: "__assert(res instanceof CacheIncrement.Success && res.valueNumber() === 1, String(res));",
    },
    {
      marks: 'new AuthClient(',
      replace: [["'http://127.0.0.1:8080'", '`${url}`']],
      context: (env) => ({ process: { env: { TIDINGS_API_KEY: env.apiKey } } }),
      driver: "__assert(res.type === 'Success' && typeof res.authToken === 'string' && res.expiresAt.epoch() > Date.now() / 1000, String(res));",
    },
  ],
  'presence.md': [
    {
      marks: 'const here = new Set();',
      context: sdkContext,
      driver: "__assert(r.type === 'Success', String(r)); __assert(here.has('doc-reader'), [...here].join());",
    },
  ],
  'history.md': [
    { marks: 'const member = PermissionScopes.combine(', driver: '__assert(member.permissions.length === 2, JSON.stringify(member));' },
    {
      marks: "await cache.pubAppend('chat', 'room1', 'room1', 'hello'",
      context: (env) => ({ url: env.server.httpUrl, token: env.token }),
      driver: [
        "__env.opened.push(topics.connection);",
        "__assert(__logs.includes('doc-reader hello'), 'the history: ' + __logs.join('|'));",
        "await cache.pubAppend('chat', 'room1', 'room1', 'live', { truncateFrontToSize: 100 });",
        "await __waitFor('the live item', () => __logs.includes('doc-reader live'));",
      ].join('\n'),
    },
    {
      marks: 'export async function joinRoom(',
      context: (env) => ({ __url: env.server.wsUrl, __token: env.token }),
      driver: [
        // A first member posts; a second joins after, sees the history, then a live message; the
        // first sees both live. Each sees every message once, in order.
        'const seenA = [], seenB = [];',
        "const a = await joinRoom(__url, __token, 'raw-room', (m) => seenA.push(m.text));",
        "await a.post('one');",
        "await __waitFor('the first live message', () => seenA.length === 1);",
        "const b = await joinRoom(__url, __token, 'raw-room', (m) => seenB.push(m.text));",
        "await b.post('two');",
        "await __waitFor('the second live message', () => seenA.length === 2 && seenB.length === 2);",
        "__assert(seenA.join() === 'one,two' && seenB.join() === 'one,two', `a: ${seenA}, b: ${seenB}`);",
        'a.close(); b.close();',
      ].join('\n'),
    },
  ],
  'moderation.md': [
    {
      marks: 'const moderator = await Moderator.connect(',
      replace: [["'ws://127.0.0.1:8080/v1/ws'", '`${__wsUrl}`']],
      context: async (env) => {
        const participant = (await env.server.auth.mintDisposableToken({ scope: PermissionScopes.chatParticipant('chat', 'room1'), expiresInSec: 300, tokenId: 'alice' })).token;
        const moderatorKey = (await env.server.auth.mintApiKey({ scope: PermissionScopes.moderator('chat'), expiresInSec: null })).token;
        const alice = sdk.connect({ url: env.server.httpUrl, token: participant, webSocket: WebSocket as unknown as sdk.WebSocketConstructor });
        env.opened.push(alice);
        return { __wsUrl: env.server.wsUrl, process: { env: { TIDINGS_API_KEY: moderatorKey } }, __alice: alice };
      },
      driver: [
        'const got = [], rejected = [];',
        "await __alice.topics.subscribe('chat', 'room1', { onItem: (item) => got.push(`${item.tokenId()}: ${item.valueString()}`) });",
        "__alice.connection.onPush((f) => { if (f.t === 'rejected') rejected.push(f.reason); });",
        "await __alice.topics.publish('chat', 'room1-input', 'what a darn day');",
        "await __alice.topics.publish('chat', 'room1-input', '  hello  ');",
        "await __waitFor('the moderated message', () => got.length === 1 && rejected.length === 1);",
        "__assert(got[0] === 'alice: hello' && rejected[0] === 'please keep it friendly', `${got} / ${rejected}`);",
        'await moderator.stop();',
      ].join('\n'),
    },
  ],
  'webhooks.md': [
    {
      marks: 'function verify(secret, rawBody, timestamp, signature)',
      context: () => ({ Buffer }),
      driver: [
        // A real delivery of the server's: the doc's check accepts it, and refuses it altered.
        "const sent = await fetch(`${__env.server.httpUrl}/v1/topics/chat/room-hook`, { method: 'POST', headers: { authorization: `Bearer ${__env.token}` }, body: 'signed' });",
        "__assert(sent.ok, 'published');",
        "await __waitFor('the webhook', () => __env.hooks.received.length > 0);",
        'const r = __env.hooks.received[0];',
        "__assert(verify(__env.hookSecret, r.body, r.headers['tidings-timestamp'], r.headers['tidings-signature']), 'a real delivery verifies');",
        "__assert(!verify(__env.hookSecret, Buffer.concat([r.body, Buffer.from(' ')]), r.headers['tidings-timestamp'], r.headers['tidings-signature']), 'an altered body does not');",
        "__assert(!verify(__env.hookSecret, r.body, String(Date.now() - 10 * 60_000), r.headers['tidings-signature']), 'an old timestamp does not');",
      ].join('\n'),
    },
  ],
  'push.md': [{ marks: 'navigator.serviceWorker.register', skip: 'a page and a service worker (navigator, self): browser only; the protocol side is test/integration/web-push.test.ts' }],
  'http-api.md': [
    { marks: "const { ticket } = await (await fetch('/v1/sse/tickets'", skip: 'EventSource: browser only; tickets are test/integration/sse-tickets.test.ts' },
    { marks: 'function open() {', skip: 'EventSource: browser only; tickets are test/integration/sse-tickets.test.ts' },
  ],
  'momento-compat.md': [
    {
      marks: "from '@gomomento/sdk';",
      replace: [["'127.0.0.1:8081'", '`127.0.0.1:${__env.server.momentoPort}`']],
      context: async (env) => ({ process: { env: { TIDINGS_MOMENTO_KEY: encodeMomentoCredential({ endpoint: `127.0.0.1:${env.server.momentoPort!}`, apiKey: env.apiKey }) } } }),
      driver: [
        "const set = await cache.set('chat', 'momento-key', 'v');",
        "const got = await cache.get('chat', 'momento-key');",
        "cache.close();",
        "__assert(set.type === 'Success' && got.type === 'Hit' && got.valueString() === 'v', `${set} / ${got}`);",
        "__assert(typeof topics.subscribe === 'function', 'topics');",
      ].join('\n'),
    },
    { marks: "from '@gomomento/sdk-web';", skip: 'the web SDK needs a browser (or the XHR shim the conformance suite installs globally: test/momento/*.test.ts)' },
    {
      marks: "from 'tidings/client';\n\nconst credentialProvider",
      replace: [["'https://broker.example.com'", '`${__env.server.httpUrl}`']],
      context: (env) => ({ authToken: env.token }),
      driver: [
        "const set = await cacheClient.set('chat', 'momento-names', 'v');",
        "const got = await cacheClient.get('chat', 'momento-names');",
        "__assert(String(set) === 'Success' && String(got) === 'Hit: v', `${set} / ${got}`);",
        'topicClient.close(); cacheClient.close();',
      ].join('\n'),
    },
  ],
  'tokens.md': [
    {
      marks: "await server.revoke({ tokenId: 'user-17' });",
      context: async (env) => ({ server: env.server, leakedToken: await tokenFor(env, 'leaky') }),
      driver: [
        "const answer = await fetch(`${server.httpUrl}/v1/presence/chat/room-1`, { headers: { authorization: `Bearer ${leakedToken}` } });",
        "__assert(answer.status === 401, `the revoked token is refused: ${answer.status}`);",
      ].join('\n'),
    },
  ],
};

t.test('the docs\' code snippets run as written and do what their doc says', async (t) => {
  const hooks = await HttpReceiver.start(t);
  const hookSecret = 'doc-snippets-hook-secret';
  const vapid = webpush.generateVAPIDKeys();
  const server = await startServer(t, {
    config: {
      momento: { enabled: true, port: 0 },
      push: { vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey },
      webhooks: { endpoints: [{ name: 'docs', url: hooks.url, secret: hookSecret, cache: 'chat', topicPrefix: 'room-hook', events: ['item.published'] }] },
    },
  });
  const apiKey = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const token = (await server.auth.mintDisposableToken({ scope: readerScope, expiresInSec: 600, tokenId: 'doc-reader' })).token;
  const env: Env = { server, apiKey, token, logs: [], opened: [], hooks, hookSecret };
  t.teardown(() => { for (const c of env.opened) c.close(); });

  for (const doc of DOCS) {
    const cases = CASES[doc] ?? [];
    const found = snippets(doc);
    for (const snippet of found) {
      const matching = cases.filter((c) => snippet.code.includes(c.marks));
      t.equal(matching.length, 1, `${doc}:${snippet.line} has exactly one case here (a new snippet needs a driver, or a reason to skip)`);
      const c = matching[0];
      if (!c) continue;
      if (c.skip) {
        t.comment(`${doc}:${snippet.line} not run: ${c.skip}`);
        continue;
      }
      let code = snippet.code;
      for (const [from, to] of c.replace ?? []) {
        t.ok(code.includes(from), `${doc}:${snippet.line} still says ${from}`);
        code = code.split(from).join(to.replace('${url}', server.httpUrl));
      }
      env.logs.length = 0;
      const context = { ...baseContext(env), ...(await c.context?.(env)) };
      await t.resolves(run({ ...snippet, code }, c.driver ?? '', context), `${doc}:${snippet.line} runs and does what it says`);
    }
    t.equal(found.length, cases.length, `${doc}: every case here matches a snippet`);
  }
});
