/** Helpers for SDK tests: an SDK connected to a test server over `ws`, collectors that resolve when
 * enough events arrived (with a deadline), and a status waiter. */
import WebSocket from 'ws';
import {
  connect, PermissionScopes, type Connection, type ConnectionOptions, type ConnectionStatus, type TopicDiscontinuity, type TopicItem,
  type WebSocketConstructor,
} from '../../src/client/index.js';
import type { TidingsServer } from '../../src/index.js';

export const WS = WebSocket as unknown as WebSocketConstructor;
export const chatScope = PermissionScopes.combine(PermissionScopes.topicPublishSubscribe('chat', '*'), PermissionScopes.cacheReadWrite('chat'));

interface Teardown { teardown(fn: () => void | Promise<void>): void }

/** connect() to `server` with a fresh token (unless a tokenProvider is given) and fast reconnects. */
export async function sdkFor(t: Teardown, server: TidingsServer, options: Partial<ConnectionOptions> & { tokenId?: string } = {}) {
  const { tokenId = 'sdk-user', ...rest } = options;
  const token = rest.tokenProvider || rest.token
    ? rest.token
    : (await server.auth.mintDisposableToken({ scope: chatScope, expiresInSec: 300, tokenId })).token;
  const sdk = connect({ url: server.httpUrl, webSocket: WS, reconnectBaseMs: 10, reconnectMaxMs: 50, ...rest, ...(token ? { token } : {}) });
  t.teardown(() => sdk.close());
  return sdk;
}

/** Resolves `until(n)` once n events arrived; rejects after a deadline naming what it got. */
export function collector<T>() {
  const events: T[] = [];
  const waiting: Array<{ n: number; resolve: () => void }> = [];
  return {
    events,
    push: (event: T) => {
      events.push(event);
      for (const w of [...waiting]) if (events.length >= w.n) { waiting.splice(waiting.indexOf(w), 1); w.resolve(); }
    },
    until(n: number, ms = 5000): Promise<T[]> {
      if (events.length >= n) return Promise.resolve(events);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${events.length} of ${n} events within ${ms} ms`)), ms);
        waiting.push({ n, resolve: () => { clearTimeout(timer); resolve(events); } });
      });
    },
  };
}

/** Items of a subscription as strings, plus its discontinuities. */
export function itemCollector() {
  const items = collector<TopicItem>();
  const gaps = collector<TopicDiscontinuity>();
  return {
    items,
    gaps,
    values: () => items.events.map((i) => i.valueString()),
    callbacks: { onItem: items.push, onDiscontinuity: gaps.push },
  };
}

/** Waits for the connection to reach a status matching `match` (checked on the current one too). */
export function statusReached<S extends ConnectionStatus['state']>(
  connection: Connection, state: S, match: (s: Extract<ConnectionStatus, { state: S }>) => boolean = () => true, ms = 5000,
): Promise<Extract<ConnectionStatus, { state: S }>> {
  const ok = (s: ConnectionStatus): s is Extract<ConnectionStatus, { state: S }> => s.state === state && match(s as Extract<ConnectionStatus, { state: S }>);
  if (ok(connection.status)) return Promise.resolve(connection.status);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`status ${state} not reached within ${ms} ms (now ${JSON.stringify(connection.status)})`)); }, ms);
    const off = connection.onStatus((s) => {
      if (!ok(s)) return;
      clearTimeout(timer);
      off();
      resolve(s);
    });
  });
}

/** Resolves at a wall-clock time (for tests about what must NOT happen before a deadline). */
export function until(unixMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, unixMs - Date.now())));
}
