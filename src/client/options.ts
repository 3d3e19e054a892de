/** Connection options and their defaults, in one place. */

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

export interface ConnectionOptions {
  /** ws://host:port/v1/ws (an http(s):// base URL is accepted and completed). */
  url: string;
  /** The credential; or give tokenProvider (called first, and again before every expiry). */
  token?: string;
  /** Returns a fresh token. Called before the current one expires, and to reconnect after 4501;
   * the swap happens in band, so subscriptions survive it. */
  tokenProvider?: () => Promise<string>;
  /** WebSocket implementation: globalThis.WebSocket in browsers; pass `ws`'s WebSocket in Node. */
  webSocket?: WebSocketConstructor;
  /** Per-request timeout, ms. */
  requestTimeoutMs?: number;
  /** Reconnect backoff: first delay, cap, both ms; each delay is jittered to 50–100 %. */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** Give up after this many failed attempts in a row (Infinity = never). */
  maxReconnectAttempts?: number;
  /** The link is declared dead after heartbeatMs × this factor without any frame. */
  heartbeatTimeoutFactor?: number;
  /** Requests waiting for the connection (sent on (re)connect); more fail with CONNECTION_ERROR. */
  maxQueuedRequests?: number;
  /** Refresh the token this long before it expires, ms. */
  tokenRefreshMarginMs?: number;
  /** Shown to the server in hello (e.g. "my-app/1.2"). */
  clientName?: string;
}

export type ResolvedConnectionOptions = Required<Omit<ConnectionOptions, 'token' | 'tokenProvider' | 'webSocket'>> &
  Pick<ConnectionOptions, 'token' | 'tokenProvider'> & { webSocket: WebSocketConstructor };

export const CONNECTION_DEFAULTS = {
  requestTimeoutMs: 15_000,
  reconnectBaseMs: 250,
  reconnectMaxMs: 10_000,
  maxReconnectAttempts: Infinity,
  heartbeatTimeoutFactor: 2.5,
  maxQueuedRequests: 1000,
  tokenRefreshMarginMs: 60_000,
  clientName: 'tidings-js',
} as const;

export function resolveConnectionOptions(options: ConnectionOptions): ResolvedConnectionOptions {
  const webSocket = options.webSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!webSocket) throw new TypeError('no WebSocket implementation: pass options.webSocket (in Node: `import WebSocket from "ws"`)');
  if (!options.token && !options.tokenProvider) throw new TypeError('give options.token or options.tokenProvider');
  let url = options.url.replace(/^http/, 'ws');
  if (!/\/v1\/ws$/.test(url)) url = url.replace(/\/$/, '') + '/v1/ws';
  const merged = { ...CONNECTION_DEFAULTS, ...stripUndefined(options), url, webSocket };
  return merged as ResolvedConnectionOptions;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
