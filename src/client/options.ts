/** Connection options, their defaults (in one place) and the normalizer that checks them. */

/** The subset of the WebSocket API the SDK uses: the browser's WebSocket and `ws` both provide it. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;
/** How the connection reaches the broker. `auto` tries WebSocket and falls back to SSE + HTTP
 * (src/client/http-transport.ts) when the upgrade fails or is blocked; the other two force one. */
export type TransportMode = 'auto' | 'websocket' | 'http';

/** The subset of fetch the HTTP transport uses (browsers and Node 18+ have it globally). */
export type { FetchLike } from './http-transport.js';
import type { FetchLike } from './http-transport.js';

/** Opens a socket: for transports that need more than `new WebSocket(url, protocols)` (headers,
 * agents, a proxy). */
export type WebSocketFactory = (url: string, protocols: string[]) => WebSocketLike;

export interface ConnectionOptions {
  /** ws://host:port/v1/ws (an http(s):// base URL is accepted and completed). */
  url: string;
  /** The credential; or give tokenProvider (called first, and again before every expiry). */
  token?: string;
  /** Returns a fresh token. Called before the current one expires, and to reconnect after 4501;
   * the swap happens in band, so subscriptions survive it. */
  tokenProvider?: () => Promise<string>;
  /** WebSocket constructor: globalThis.WebSocket in browsers by default; in Node pass `ws`'s. */
  webSocket?: WebSocketConstructor;
  /** Alternative to `webSocket`: a function that opens the socket. Give one or the other. */
  webSocketFactory?: WebSocketFactory;
  /** `auto` (default): WebSocket, falling back to SSE + HTTP when the upgrade fails (and straight
   * to SSE + HTTP when no WebSocket implementation is available); `websocket` or `http` force one.
   * The API, resume guarantees and errors are the same on both. */
  transport?: TransportMode;
  /** fetch for the HTTP transport: globalThis.fetch by default. */
  fetch?: FetchLike;
  /** Per-request timeout, ms (override per call with `{ timeoutMs }`). */
  requestTimeoutMs?: number;
  /** Opening the socket plus the hello round trip must finish within this, else the attempt is
   * abandoned and retried with backoff, ms. */
  connectTimeoutMs?: number;
  /** Reconnect backoff: first delay, cap, both ms; each delay is jittered to 50–100 %. */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** Give up after this many failed attempts in a row (Infinity = never). */
  maxReconnectAttempts?: number;
  /** The link is declared dead after heartbeatMs × this factor without any frame. */
  heartbeatTimeoutFactor?: number;
  /** Requests waiting for the connection (sent on (re)connect); more fail with CONNECTION_ERROR.
   * 0 = never queue: every request made while disconnected fails at once. */
  maxQueuedRequests?: number;
  /** Bytes (encoded frames) the waiting requests may hold together; a request that would pass it
   * fails at once with CONNECTION_ERROR, as for maxQueuedRequests. Idempotent writes queued again
   * after a cut link count too. 0 = never queue. */
  maxQueuedBytes?: number;
  /** Refresh the token this long before it expires, ms. */
  tokenRefreshMarginMs?: number;
  /** Shown to the server in hello (e.g. "my-app/1.2"). */
  clientName?: string;
  /** Throw the error (a TidingsClientError) instead of resolving to an Error response. Momento's
   * `throwOnErrors`; clients built on this connection inherit it unless they set their own. */
  throwOnErrors?: boolean;
}

export interface ResolvedConnectionOptions {
  url: string;
  token: string | undefined;
  tokenProvider: (() => Promise<string>) | undefined;
  /** Undefined when the transport is `http`, or `auto` without a WebSocket implementation. */
  openSocket: WebSocketFactory | undefined;
  transport: TransportMode;
  /** http(s)://host[:port], the base of the HTTP transport's routes. */
  httpUrl: string;
  fetch: FetchLike | undefined;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  maxReconnectAttempts: number;
  heartbeatTimeoutFactor: number;
  maxQueuedRequests: number;
  maxQueuedBytes: number;
  tokenRefreshMarginMs: number;
  clientName: string;
  throwOnErrors: boolean;
}

/** The longest delay a timer holds (Node and browsers): past it, setTimeout fires after ~1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Why a per-call `timeoutMs` cannot be used, or undefined when it can. */
export function timeoutProblem(timeoutMs: unknown): string | undefined {
  if (typeof timeoutMs === 'number' && timeoutMs > 0 && timeoutMs <= MAX_TIMER_MS) return undefined;
  return `timeoutMs must be a positive number of ms, at most ${MAX_TIMER_MS}, not ${String(timeoutMs)}`;
}

export const CONNECTION_DEFAULTS = {
  requestTimeoutMs: 15_000,
  connectTimeoutMs: 10_000,
  reconnectBaseMs: 250,
  reconnectMaxMs: 10_000,
  maxReconnectAttempts: Infinity,
  heartbeatTimeoutFactor: 2.5,
  maxQueuedRequests: 1000,
  /** 8 MiB: a thousand requests of ~8 KB; bounds what an offline app holds in memory. */
  maxQueuedBytes: 8 * 1024 * 1024,
  tokenRefreshMarginMs: 60_000,
  clientName: 'tidings-js',
  throwOnErrors: false,
} as const;

/** Merges options over the defaults; a missing or contradictory option is a TypeError naming it. */
export function resolveConnectionOptions(options: ConnectionOptions): ResolvedConnectionOptions {
  if (!options || typeof options.url !== 'string' || options.url === '') throw new TypeError('options.url is required (e.g. "https://broker.example")');
  // Anything else could never connect; over the HTTP transport it would be retried for ever.
  if (!/^(https?|wss?):\/\/[^/]/i.test(options.url)) throw new TypeError(`options.url must be an absolute http(s):// or ws(s):// URL, not "${options.url}"`);
  if (options.webSocket && options.webSocketFactory) throw new TypeError('give options.webSocket or options.webSocketFactory, not both');
  if (!options.token && !options.tokenProvider) throw new TypeError('give options.token or options.tokenProvider');
  // Wrong types here would fail on every connect attempt, retried for ever, not once here.
  if (options.token !== undefined && typeof options.token !== 'string') throw new TypeError('options.token must be a string');
  for (const key of ['tokenProvider', 'webSocket', 'webSocketFactory', 'fetch'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'function') throw new TypeError(`options.${key} must be a function`);
  }
  const transport = options.transport ?? 'auto';
  if (!['auto', 'websocket', 'http'].includes(transport)) throw new TypeError('options.transport must be "auto", "websocket" or "http"');
  const ctor = options.webSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  const openSocket = transport === 'http' ? undefined
    : options.webSocketFactory ?? (transport === 'auto' && !ctor ? undefined : constructorFactory(ctor));
  const fetchImpl = options.fetch ?? (globalThis as { fetch?: FetchLike }).fetch?.bind(globalThis);
  if (!openSocket && !fetchImpl) throw new TypeError('no fetch for the HTTP transport: pass options.fetch');
  const merged = { ...CONNECTION_DEFAULTS, ...stripUndefined(options) };
  for (const key of ['requestTimeoutMs', 'connectTimeoutMs', 'reconnectBaseMs', 'reconnectMaxMs', 'heartbeatTimeoutFactor', 'tokenRefreshMarginMs'] as const) {
    if (!(typeof merged[key] === 'number' && merged[key] > 0)) throw new TypeError(`options.${key} must be a positive number`);
  }
  for (const key of ['requestTimeoutMs', 'connectTimeoutMs', 'reconnectBaseMs', 'reconnectMaxMs'] as const) {
    if (merged[key] > MAX_TIMER_MS) throw new TypeError(`options.${key} must be at most ${MAX_TIMER_MS} ms (a longer timer fires at once)`);
  }
  // At most 1, an idle but healthy link would be declared dead before its next heartbeat is due.
  if (!(merged.heartbeatTimeoutFactor > 1)) throw new TypeError('options.heartbeatTimeoutFactor must be larger than 1');
  if (typeof merged.clientName !== 'string' || merged.clientName === '') throw new TypeError('options.clientName must be a non-empty string');
  if (typeof merged.throwOnErrors !== 'boolean') throw new TypeError('options.throwOnErrors must be true or false');
  for (const key of ['maxReconnectAttempts', 'maxQueuedRequests', 'maxQueuedBytes'] as const) {
    if (!(typeof merged[key] === 'number' && merged[key] >= 0)) throw new TypeError(`options.${key} must be a number ≥ 0`);
  }
  return {
    url: websocketUrl(options.url),
    token: options.token,
    tokenProvider: options.tokenProvider,
    openSocket,
    transport,
    httpUrl: httpBaseUrl(options.url),
    fetch: fetchImpl,
    requestTimeoutMs: merged.requestTimeoutMs,
    connectTimeoutMs: merged.connectTimeoutMs,
    reconnectBaseMs: merged.reconnectBaseMs,
    reconnectMaxMs: Math.max(merged.reconnectMaxMs, merged.reconnectBaseMs),
    maxReconnectAttempts: merged.maxReconnectAttempts,
    heartbeatTimeoutFactor: merged.heartbeatTimeoutFactor,
    maxQueuedRequests: merged.maxQueuedRequests,
    maxQueuedBytes: merged.maxQueuedBytes,
    tokenRefreshMarginMs: merged.tokenRefreshMarginMs,
    clientName: merged.clientName,
    throwOnErrors: merged.throwOnErrors,
  };
}

/** A scheme is case-insensitive (options.url may be WSS:// or HTTPS://): the mappings below, and
 * a fetch or WebSocket that takes only its own schemes, need it in lower case. */
function lowerScheme(url: string): string {
  return url.replace(/^[a-z]+:/i, (scheme) => scheme.toLowerCase());
}

/** http(s)://host[:port][/] -> ws(s)://host[:port]/v1/ws; a ws(s) URL ending in /v1/ws is kept. */
export function websocketUrl(url: string): string {
  let ws = lowerScheme(url).replace(/^http/, 'ws');
  if (!/\/v1\/ws$/.test(ws)) ws = ws.replace(/\/$/, '') + '/v1/ws';
  return ws;
}

/** ws(s)://host[:port]/v1/ws or http(s)://host[:port][/] -> http(s)://host[:port]. */
export function httpBaseUrl(url: string): string {
  return lowerScheme(url).replace(/^ws/, 'http').replace(/\/v1\/ws$/, '').replace(/\/$/, '');
}

function constructorFactory(ctor: WebSocketConstructor | undefined): WebSocketFactory {
  if (!ctor) throw new TypeError('no WebSocket implementation: pass options.webSocket (in Node: `import WebSocket from "ws"`)');
  return (url, protocols) => new ctor(url, protocols);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
