/** One WebSocket to the broker, shared by every client object: hello with a token, request/reply
 * correlation, a heartbeat watchdog, in-band token refresh, and reconnect with jittered backoff.
 * Requests made while disconnected wait in a bounded queue and go out once reconnected. */
import {
  CloseCode, ErrorCode, PROTOCOL_VERSIONS, SUBPROTOCOL, decodeFrame, encodeFrame, shouldReconnect,
  type HelloResult, type WireError,
} from '../protocol/index.js';
import { reconnectDelay } from './backoff.js';
import { TidingsClientError, cancelledError, connectionError, timeoutError } from './errors.js';
import { resolveConnectionOptions, type ConnectionOptions, type ResolvedConnectionOptions, type WebSocketLike } from './options.js';

export type ConnectionStatus =
  | { state: 'connecting'; attempt: number }
  | { state: 'open'; connectionId: string; expiresAt: number | null }
  | { state: 'reconnecting'; attempt: number; inMs: number; lastClose: { code: number; reason: string } }
  | { state: 'closed'; reason: string; error?: TidingsClientError };

export interface RequestOptions { timeoutMs?: number; signal?: AbortSignal }
type Frame = Record<string, unknown>;

interface PendingRequest {
  frame: Frame;
  resolve(result: unknown): void;
  reject(error: TidingsClientError): void;
  timer: ReturnType<typeof setTimeout> | undefined;
  cleanup(): void;
}

export class Connection {
  private readonly options: ResolvedConnectionOptions;
  private statusValue: ConnectionStatus = { state: 'connecting', attempt: 0 };
  private ws: WebSocketLike | undefined;
  private nextId = 1;
  private readonly inFlight = new Map<number, PendingRequest>();
  private readonly queue: PendingRequest[] = [];
  private readonly pushListeners = new Set<(frame: Frame) => void>();
  private readonly openListeners = new Set<(first: boolean) => void>();
  private readonly statusListeners = new Set<(status: ConnectionStatus) => void>();
  private token: string | undefined;
  private opened = 0;
  private attempt = 0;
  private closedByUser = false;
  private heartbeatMs = 15_000;
  private lastFrameAt = 0;
  private watchdog: ReturnType<typeof setInterval> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshing: Promise<void> | undefined;
  /** Why the server said it closes (from `bye`), kept for the close that follows. */
  private lastBye: { code: number; reason: string } | undefined;

  constructor(options: ConnectionOptions) {
    this.options = resolveConnectionOptions(options);
    this.token = options.token;
    void this.connect();
  }

  get status(): ConnectionStatus { return this.statusValue; }
  get requestTimeoutMs(): number { return this.options.requestTimeoutMs; }

  /** Listens for status changes; returns a function that stops listening. */
  onStatus(listener: (status: ConnectionStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /** Every frame the server pushes (not replies). */
  onPush(listener: (frame: Frame) => void): () => void {
    this.pushListeners.add(listener);
    return () => this.pushListeners.delete(listener);
  }

  /** Called after every successful hello (`first` on the first one), before queued requests go out. */
  onOpen(listener: (first: boolean) => void): () => void {
    this.openListeners.add(listener);
    return () => this.openListeners.delete(listener);
  }

  /** Called after each reconnect (not the first open). */
  onReconnect(listener: () => void): () => void {
    return this.onOpen((first) => { if (!first) listener(); });
  }

  /** Resolves once the connection is open (or rejects when it closes for good). */
  ready(timeoutMs = this.options.requestTimeoutMs): Promise<void> {
    return this.request({ t: 'ping' }, { timeoutMs }).then(() => undefined);
  }

  /** Sends a request and resolves with the reply's `r`; rejects with a TidingsClientError. */
  request<R = unknown>(frame: { t: string; [field: string]: unknown }, options: RequestOptions = {}): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (this.statusValue.state === 'closed') return reject(connectionError(`connection is closed: ${this.statusValue.reason}`));
      if (options.signal?.aborted) return reject(cancelledError('request was cancelled'));
      const pending: PendingRequest = {
        frame,
        resolve: (r) => { pending.cleanup(); resolve(r as R); },
        reject: (e) => { pending.cleanup(); reject(e); },
        timer: undefined,
        cleanup: () => {
          clearTimeout(pending.timer);
          options.signal?.removeEventListener('abort', onAbort);
          const i = this.queue.indexOf(pending);
          if (i >= 0) this.queue.splice(i, 1);
          for (const [id, p] of this.inFlight) if (p === pending) this.inFlight.delete(id);
        },
      };
      const onAbort = () => pending.reject(cancelledError('request was cancelled'));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs;
      pending.timer = setTimeout(() => pending.reject(timeoutError(`no reply to ${frame.t} within ${timeoutMs} ms`)), timeoutMs);
      if (this.statusValue.state === 'open') this.send(pending);
      else if (this.queue.length >= this.options.maxQueuedRequests) {
        pending.reject(connectionError(`not connected, and ${this.options.maxQueuedRequests} requests are already waiting`));
      } else this.queue.push(pending);
    });
  }

  /** Closes for good: pending and queued requests fail with CONNECTION_ERROR. */
  close(): void {
    if (this.closedByUser) return;
    this.closedByUser = true;
    clearTimeout(this.reconnectTimer);
    const ws = this.ws;
    this.finish('closed by the client');
    ws?.close(CloseCode.NORMAL, 'client closed');
  }

  /** Fetches a fresh token from tokenProvider and swaps it in band. */
  refreshToken(): Promise<void> {
    this.refreshing ??= (async () => {
      const provider = this.options.tokenProvider;
      if (!provider) return;
      const token = await provider();
      const result = await this.request<{ expiresAt: number | null }>({ t: 'auth', token });
      this.token = token;
      this.scheduleRefresh(result.expiresAt);
    })().finally(() => { this.refreshing = undefined; });
    return this.refreshing;
  }

  // -- internals ---------------------------------------------------------------------------------

  private setStatus(status: ConnectionStatus): void {
    this.statusValue = status;
    for (const listener of [...this.statusListeners]) listener(status);
  }

  private async connect(): Promise<void> {
    if (this.closedByUser) return;
    this.setStatus({ state: 'connecting', attempt: this.attempt });
    try {
      if (!this.token) this.token = await this.options.tokenProvider!();
    } catch (err) {
      return this.scheduleReconnect({ code: 0, reason: `token provider failed: ${(err as Error).message}` });
    }
    if (this.closedByUser) return;
    let ws: WebSocketLike;
    try {
      ws = new this.options.webSocket(this.options.url, [SUBPROTOCOL]);
    } catch (err) {
      return this.scheduleReconnect({ code: 0, reason: (err as Error).message });
    }
    this.ws = ws;
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => this.hello(ws);
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onerror = () => { /* a close event follows with the details */ };
    ws.onclose = (ev) => this.closed(ws, ev.code, ev.reason);
  }

  private hello(ws: WebSocketLike): void {
    const id = this.nextId++;
    const pending: PendingRequest = {
      frame: { t: 'hello' },
      resolve: (r) => this.opened_(ws, r as HelloResult),
      reject: () => { /* the server follows a refused hello with bye + close; handled there */ },
      timer: undefined,
      cleanup: () => {},
    };
    this.inFlight.set(id, pending);
    this.lastFrameAt = Date.now();
    ws.send(encodeFrame({ t: 'hello', id, versions: [...PROTOCOL_VERSIONS], token: this.token, client: this.options.clientName }));
  }

  private opened_(ws: WebSocketLike, hello: HelloResult): void {
    if (ws !== this.ws) return;
    const first = this.opened++ === 0;
    this.attempt = 0;
    this.heartbeatMs = hello.heartbeatMs;
    this.lastFrameAt = Date.now();
    clearInterval(this.watchdog);
    this.watchdog = setInterval(() => this.checkHeartbeat(ws), Math.max(50, Math.round(this.heartbeatMs / 2)));
    this.scheduleRefresh(hello.expiresAt);
    this.setStatus({ state: 'open', connectionId: hello.connectionId, expiresAt: hello.expiresAt });
    for (const listener of [...this.openListeners]) listener(first);
    for (const pending of this.queue.splice(0)) this.send(pending);
  }

  private send(pending: PendingRequest): void {
    const id = this.nextId++;
    this.inFlight.set(id, pending);
    try {
      this.ws!.send(encodeFrame({ ...pending.frame, id }));
    } catch (err) {
      pending.reject(connectionError(`send failed: ${(err as Error).message}`));
    }
  }

  private receive(data: unknown): void {
    this.lastFrameAt = Date.now();
    let frame: Frame;
    try {
      frame = decodeFrame(new Uint8Array(data as ArrayBuffer));
    } catch {
      return; // not ours to crash on; the server never sends undecodable frames
    }
    const t = frame['t'];
    if ((t === 'ok' || t === 'err') && typeof frame['id'] === 'number') {
      const pending = this.inFlight.get(frame['id']);
      if (!pending) return;
      this.inFlight.delete(frame['id']);
      if (t === 'ok') pending.resolve(frame['r']);
      else pending.reject(TidingsClientError.fromWire(frame['e'] as WireError));
      return;
    }
    if (t === 'bye') this.lastBye = { code: frame['code'] as number, reason: frame['reason'] as string };
    if (t === 'notice' && frame['kind'] === 'token_expiring') void this.refreshToken().catch(() => {});
    for (const listener of [...this.pushListeners]) listener(frame);
  }

  private checkHeartbeat(ws: WebSocketLike): void {
    if (ws !== this.ws) return;
    if (Date.now() - this.lastFrameAt > this.heartbeatMs * this.options.heartbeatTimeoutFactor) {
      // A dead link may never deliver a close event: drop it now and reconnect.
      ws.onclose = null;
      ws.onmessage = null;
      try { ws.close(); } catch { /* already closing */ }
      this.closed(ws, 4001, 'no heartbeat from the server');
    }
  }

  private closed(ws: WebSocketLike, code: number, reason: string): void {
    if (ws !== this.ws) return;
    this.ws = undefined;
    clearInterval(this.watchdog);
    clearTimeout(this.refreshTimer);
    const bye = this.lastBye;
    this.lastBye = undefined;
    const why = { code, reason: bye?.reason ?? reason ?? '' };
    for (const pending of [...this.inFlight.values()]) {
      pending.reject(connectionError(`connection closed before the reply (${why.code} ${why.reason}); the request may or may not have been applied`));
    }
    this.inFlight.clear();
    if (this.closedByUser) return;
    if (shouldReconnect(code)) return this.scheduleReconnect(why);
    // 4500–4999: not with the same credential. A token provider can supply another one.
    if (this.options.tokenProvider && (code === CloseCode.TOKEN_EXPIRED || code === CloseCode.AUTHENTICATION_FAILED) && this.attempt < 3) {
      this.token = undefined;
      return this.scheduleReconnect(why);
    }
    const code_ = code === CloseCode.TOKEN_EXPIRED || code === CloseCode.AUTHENTICATION_FAILED ? ErrorCode.AUTHENTICATION_ERROR : ErrorCode.CONNECTION_ERROR;
    this.finish(`server closed the connection: ${why.code} ${why.reason}`, new TidingsClientError(code_, why.reason || `closed with ${code}`));
  }

  private scheduleReconnect(lastClose: { code: number; reason: string }): void {
    if (this.closedByUser) return;
    if (this.attempt >= this.options.maxReconnectAttempts) {
      return this.finish(`gave up after ${this.attempt} reconnect attempts`, connectionError(lastClose.reason || 'cannot connect'));
    }
    const inMs = reconnectDelay(this.attempt, this.options.reconnectBaseMs, this.options.reconnectMaxMs);
    this.attempt++;
    this.setStatus({ state: 'reconnecting', attempt: this.attempt, inMs, lastClose });
    this.reconnectTimer = setTimeout(() => void this.connect(), inMs);
  }

  private scheduleRefresh(expiresAt: number | null): void {
    clearTimeout(this.refreshTimer);
    if (expiresAt === null || !this.options.tokenProvider) return;
    const inMs = Math.max(0, expiresAt - Date.now() - this.options.tokenRefreshMarginMs);
    if (inMs < 2 ** 31 - 1) this.refreshTimer = setTimeout(() => void this.refreshToken().catch(() => {}), inMs);
  }

  private finish(reason: string, error?: TidingsClientError): void {
    clearInterval(this.watchdog);
    clearTimeout(this.refreshTimer);
    clearTimeout(this.reconnectTimer);
    this.ws = undefined;
    const failure = error ?? connectionError(reason);
    for (const pending of [...this.queue, ...this.inFlight.values()]) pending.reject(failure);
    this.queue.length = 0;
    this.inFlight.clear();
    this.setStatus(error ? { state: 'closed', reason, error } : { state: 'closed', reason });
  }
}
