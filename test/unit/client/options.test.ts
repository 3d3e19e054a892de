/** Connection options are checked when the client is built (docs/client.md: "Bad options are a
 * TypeError naming the option"): a value the SDK could not work with never reaches a connection. */
import t from 'tap';
import WebSocket from 'ws';
import { MAX_TIMER_MS, resolveConnectionOptions, timeoutProblem, type ConnectionOptions } from '../../../src/client/options.js';

const base: ConnectionOptions = { url: 'http://127.0.0.1:1', token: 't', webSocket: WebSocket as never };
const refusal = (patch: Record<string, unknown>) => {
  try {
    resolveConnectionOptions({ ...base, ...patch } as ConnectionOptions);
    return undefined;
  } catch (err) {
    return err;
  }
};

t.test('each bad value is a TypeError naming its option', async (t) => {
  const bad: Array<[string, unknown]> = [
    ['requestTimeoutMs', -1], ['connectTimeoutMs', 0], ['reconnectBaseMs', Number.NaN], ['reconnectMaxMs', '5'],
    ['maxReconnectAttempts', -1], ['maxQueuedRequests', -1], ['maxQueuedBytes', -1], ['tokenRefreshMarginMs', 0],
    // At most 1, a silent but healthy link would be declared dead before its next heartbeat is due.
    ['heartbeatTimeoutFactor', 1], ['heartbeatTimeoutFactor', 0.5],
    ['clientName', 5], ['clientName', ''], ['throwOnErrors', 'yes'], ['transport', 'carrier-pigeon'],
    // Past 2^31 - 1 ms a timer fires after 1 ms (Node and browsers): every request would time out
    // at once, every connect attempt be abandoned, the backoff turn into a tight loop.
    ['requestTimeoutMs', 2 ** 31], ['connectTimeoutMs', Infinity], ['reconnectBaseMs', 2 ** 31], ['reconnectMaxMs', Infinity],
    // Wrong types that would otherwise fail on every connect attempt, retried for ever.
    ['tokenProvider', 'not a function'], ['token', 42], ['webSocket', {}], ['webSocketFactory', 'ws'], ['fetch', 'fetch'],
    // Not an absolute http(s) or ws(s) URL: nothing could ever connect to it.
    ['url', 'broker.example'], ['url', 'ftp://broker.example'], ['url', '/v1/ws'],
  ];
  for (const [option, value] of bad) {
    const err = refusal({ ...(option === 'webSocketFactory' ? { webSocket: undefined } : {}), [option]: value });
    t.type(err, TypeError, `${option}: ${JSON.stringify(value)} is refused`);
    t.match((err as Error | undefined)?.message, `options.${option}`, 'naming the option');
  }
});

t.test('good values, and the defaults, are accepted', async (t) => {
  t.equal(refusal({}), undefined, 'defaults');
  for (const url of ['https://broker.example', 'HTTP://127.0.0.1:8080/', 'wss://broker.example/v1/ws', 'ws://[::1]:80']) t.equal(refusal({ url }), undefined, url);
  t.equal(refusal({ requestTimeoutMs: 2 ** 31 - 1, reconnectMaxMs: 2 ** 31 - 1, tokenRefreshMarginMs: Infinity }), undefined, 'the longest timer');
  t.equal(refusal({ heartbeatTimeoutFactor: 1.5, clientName: 'my-app/1.2', throwOnErrors: true, maxReconnectAttempts: Infinity, maxQueuedRequests: 0 }), undefined);
  t.equal(resolveConnectionOptions({ ...base, heartbeatTimeoutFactor: 1.5 }).heartbeatTimeoutFactor, 1.5);
  t.equal(resolveConnectionOptions({ ...base, reconnectBaseMs: 500, reconnectMaxMs: 100 }).reconnectMaxMs, 500, 'a backoff cap under its base is raised to it');
  t.equal(resolveConnectionOptions({ ...base, url: 'wss://broker.example/v1/ws' }).httpUrl, 'https://broker.example', 'the HTTP routes\' base drops /v1/ws');
});

t.test('without any WebSocket the websocket transport cannot work: refused up front', async (t) => {
  t.equal(typeof (globalThis as { WebSocket?: unknown }).WebSocket, 'undefined', 'Node 20 has no global WebSocket');
  t.match((refusal({ transport: 'websocket', webSocket: undefined }) as Error | undefined)?.message, 'options.webSocket');
});

t.test('without any fetch the HTTP transport cannot work: refused up front', async (t) => {
  const saved = globalThis.fetch;
  (globalThis as { fetch?: typeof fetch }).fetch = undefined;
  t.teardown(() => { globalThis.fetch = saved; });
  t.match((refusal({ transport: 'http' }) as Error | undefined)?.message, 'options.fetch');
});

t.test('a per-call timeoutMs is from over 0 up to the longest timer, 2^31 - 1 ms (docs/client.md, Errors)', async (t) => {
  t.equal(timeoutProblem(MAX_TIMER_MS), undefined, 'the longest timer');
  t.equal(timeoutProblem(0.5), undefined);
  for (const bad of [0, -1, MAX_TIMER_MS + 1, Number.NaN, '100']) t.match(timeoutProblem(bad), /timeoutMs must be/, `${String(bad)} is refused`);
});
