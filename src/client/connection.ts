/** One WebSocket to the broker, shared by every client object: hello with a token, request/reply
 * correlation by id, a heartbeat watchdog, in-band token refresh, and reconnect with jittered
 * backoff. Requests made while disconnected wait in a queue bounded by count and bytes and go out
 * once reconnected. */
import {
  CloseCode, ErrorCode, IDEMPOTENT_OPERATIONS, UnavailableCause, PROTOCOL_VERSIONS, SUBPROTOCOL, decodeFrames, encodeFrame, idempotencyKeyProblem, shouldReconnect,
  type HelloResult, type OperationName, type RequestOf, type ResultOf, type WireError,
} from '../protocol/index.js';
import { reconnectDelay } from './backoff.js';
import { TidingsClientError, cancelledError, connectionError, guard, queueFullError, timeoutError } from './errors.js';
import { resolveConnectionOptions, timeoutProblem, type ConnectionOptions, type ResolvedConnectionOptions, type WebSocketLike } from './options.js';
import { HttpStreamSocket } from './http-transport.js';
import { RequestQueue, type QueueRefusal } from './request-queue.js';
import type { ConnectionTopics } from './topic-client.js';

/** What carries the connection right now. */
export type TransportKind = 'websocket' | 'http';

/** The connection's lifecycle, as a discriminated union on `state`. */
export type ConnectionStatus =
  | { state: 'connecting'; attempt: number }
  | { state: 'open'; connectionId: string; expiresAt: number | null; transport: TransportKind }
  | { state: 'reconnecting'; attempt: number; inMs: number; lastClose: { code: number; reason: string } }
  | { state: 'closed'; reason: string; error?: TidingsClientError };

/** Outcome of one token refresh (tokenProvider + in-band `auth`). `endedGroups`: moderator group
 * memberships the new token no longer covers, ended by the server. */
export type TokenRefreshEvent =
  | { ok: true; expiresAt: number | null; endedGroups: Array<{ cache: string; group: string }> }
  | { ok: false; error: TidingsClientError };

export interface RequestOptions {
  /** Overrides the connection's requestTimeoutMs for this call. */
  timeoutMs?: number;
  /** Cancels the call (CANCELLED_ERROR). */
  signal?: AbortSignal;
  /** Momento's name for `signal`. */
  abortSignal?: AbortSignal;
  /** @internal Runs as the server's reply is read, before the frames after it (the promise's
   * callbacks run later: after every frame of the same read). */
  onReply?: () => void;
}
/** Options of a write the server deduplicates by its key (IDEMPOTENT_OPERATIONS: publish, pubAppend,
 * the list pushes, the increments, setIf*). */
export interface IdempotentWriteOptions extends RequestOptions {
  /** Sends the write with this key (1 to 128 characters) instead of a new random one: the key of
   * an earlier attempt (its error's `idempotencyKey`) to retry a write that may have been applied,
   * so the server applies it at most once (docs/client.md, "Retrying a write that may have been applied"). */
  idempotencyKey?: string;
}
type Frame = Record<string, unknown>;
/** A request as the SDK builds it, typed by the protocol's operations map; the connection sets `id`. */
export type OutgoingFrame<K extends OperationName> = { t: K } & Omit<RequestOf<K>, 'id' | 't'>;

/** Close code the SDK reports for links it gives up on itself (watchdog, connect timeout): the
 * code a browser reports for a connection that died without a close frame. */
const LOCAL_ABORT = 1006;
/** Requests a draining server refuses that do not wait for the next link: the close ends the
 * server's subscriptions, and each subscription subscribes again on every open, from its position
 * then (subscription.ts). Sent from the queue, after those resubscriptions, an `unsub` would end the
 * subscription a subscribe() to the topic made meanwhile, and a `sub` would outlive a subscription
 * ended meanwhile (the server holding one the SDK does not know: the next subscribe() to the topic
 * is refused ALREADY_EXISTS_ERROR). */
const SUBSCRIPTION_UPKEEP: ReadonlySet<string> = new Set(['sub', 'unsub']);
/** Reconnects with a fresh token after 4500/4501/4504 (refused, expired, revoked), at most this many times in a row. */
const MAX_AUTH_RETRIES = 3;

interface PendingRequest {
  frame: Frame;
  /** Set once sent: the request id on the wire. */
  id: number | undefined;
  /** Sent at least once (an idempotent write waiting to be sent again after a reconnect). */
  sent?: boolean;
  /** The tokenId of the link it was last sent on. The server remembers idempotency keys per
   * tokenId (per connection for a credential without one): only a link with the same tokenId
   * recognises a resend. */
  sentAs?: string | undefined;
  onReply?: (() => void) | undefined;
  resolve(result: unknown): void;
  reject(error: TidingsClientError): void;
}

/** A request's size as it waits in the queue: its encoded frame with the largest id (the real id
 * is set when it is sent), so the bytes counted are never fewer than the bytes sent. */
function queuedSize(frame: Frame): number {
  return encodeFrame({ ...frame, id: Number.MAX_SAFE_INTEGER }).byteLength;
}

/** When the credential of a hello or auth reply expires by this device's clock: now + the
 * server's expiresInMs, else (an older server) its expiresAt, which is right only when both clocks
 * agree. A device clock ahead by more than a token's lifetime made every token look expired at
 * once: the SDK refreshed in a loop, calling tokenProvider as fast as the round trips went. */
function localExpiry(reply: { expiresAt: number | null; expiresInMs?: number }): number | null {
  if (reply.expiresAt === null) return null;
  return typeof reply.expiresInMs === 'number' ? Date.now() + reply.expiresInMs : reply.expiresAt;
}

/** 128 random bits, URL-safe: an idempotency key no other request of this tokenId will share. */
function randomKey(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let key = '';
  for (const b of bytes) key += b.toString(16).padStart(2, '0');
  return key;
}

export class Connection {
  private readonly options: ResolvedConnectionOptions;
  private statusValue: ConnectionStatus = { state: 'connecting', attempt: 0 };
  private ws: WebSocketLike | undefined;
  private nextId = 1;
  private readonly inFlight = new Map<number, PendingRequest>();
  private readonly queue: RequestQueue<PendingRequest>;
  private readonly pushListeners = new Set<(frame: Frame) => void>();
  private readonly openListeners = new Set<(first: boolean) => void>();
  private readonly statusListeners = new Set<(status: ConnectionStatus) => void>();
  private readonly refreshListeners = new Set<(event: TokenRefreshEvent) => void>();
  private token: string | undefined;
  /** Expiry of `token` by this device's clock (from the server's expiresInMs when it sends one, so
   * a device clock that is off does not matter); undefined before the first hello. */
  private tokenExpiresAt: number | null | undefined;
  private opened = 0;
  private attempt = 0;
  private authRetries = 0;
  private closedByUser = false;
  private heartbeatMs = 15_000;
  private lastFrameAt = 0;
  private watchdog: ReturnType<typeof setInterval> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  /** When refreshTimer fires (undefined when none is armed). */
  private refreshDueAt: number | undefined;
  private refreshing: Promise<void> | undefined;
  /** The link in use (or being opened) is the HTTP one. */
  private useHttp: boolean;
  /** The current link completed hello (a link that fails before that may be a blocked upgrade). */
  private linkOpened = false;
  /** When it did. The backoff starts over only after a link that stayed open a heartbeat interval:
   * one dropped right after hello (a proxy or server that drops every connection, a replay that
   * trips the slow-consumer limit) is one more failure in a row, else the SDK would reconnect every
   * reconnectBaseMs for ever. */
  private linkOpenedAt = 0;
  /** Why the server said it closes (from `bye`), kept for the close that follows. */
  private lastBye: { code: number; reason: string } | undefined;
  /** The current link's tokenId (from its hello). */
  private linkTokenId: string | undefined;
  /** The server's frame limit (hello.limits.maxFrameBytes): a larger request is refused here, at
   * once, instead of being sent (over 2× it the server drops the link, and the resend after the
   * reconnect would drop it again, until the request's timeout). */
  private maxFrameBytes: number | undefined;
  /** Fail functions of tokenProvider calls under way: close() settles them. */
  private readonly providerCalls = new Set<(error: Error) => void>();
  /** @internal The topics subscribed on this connection by every TopicClient sharing it
   * (topic-client.ts); undefined while no client uses it. */
  topics: ConnectionTopics | undefined;

  constructor(options: ConnectionOptions) {
    this.options = resolveConnectionOptions(options);
    this.queue = new RequestQueue({ maxRequests: this.options.maxQueuedRequests, maxBytes: this.options.maxQueuedBytes });
    this.useHttp = !this.options.openSocket;
    this.token = options.token;
    void this.connect();
  }

  get status(): ConnectionStatus { return this.statusValue; }
  /** The transport of the current (or next) link. */
  get transport(): TransportKind { return this.useHttp ? 'http' : 'websocket'; }
  get requestTimeoutMs(): number { return this.options.requestTimeoutMs; }
  /** The reconnect backoff's delay for `attempt` (0, 1, …): for requests the SDK retries itself. */
  backoffDelay(attempt: number): number { return reconnectDelay(attempt, this.options.reconnectBaseMs, this.options.reconnectMaxMs); }
  /** Requests waiting for the connection, and their encoded bytes (bounded by maxQueuedRequests
   * and maxQueuedBytes). */
  get queued(): { requests: number; bytes: number } { return { requests: this.queue.length, bytes: this.queue.bytes }; }
  /** Whether clients on this connection throw errors instead of returning Error responses. */
  get throwOnErrors(): boolean { return this.options.throwOnErrors; }

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

  /** Called after each token refresh attempt, successful or not. */
  onTokenRefresh(listener: (event: TokenRefreshEvent) => void): () => void {
    this.refreshListeners.add(listener);
    return () => this.refreshListeners.delete(listener);
  }

  /** Resolves once the connection is open and answered a ping; rejects with CONNECTION_ERROR when
   * it is not open within `timeoutMs`, or with the connection's error when it closes for good. */
  ready(timeoutMs = this.options.requestTimeoutMs): Promise<void> {
    const problem = timeoutProblem(timeoutMs);
    if (problem) return Promise.reject(new TidingsClientError(ErrorCode.INVALID_ARGUMENT_ERROR, `ready(): ${problem}`));
    const ping = (ms: number) => this.request({ t: 'ping' }, { timeoutMs: ms }).then(() => undefined);
    const now = this.statusValue;
    if (now.state === 'closed') return Promise.reject(now.error ?? connectionError(`connection is closed: ${now.reason}`));
    if (now.state === 'open') return ping(timeoutMs);
    // Waits on the status, not in the request queue: ready() is no request of the app's, so a full
    // queue (or maxQueuedRequests 0) does not refuse it, and it takes no room from the app's.
    const started = Date.now();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { off(); reject(connectionError(`not connected within ${timeoutMs} ms`)); }, timeoutMs);
      const off = this.onStatus((status) => {
        if (status.state === 'closed') reject(status.error ?? connectionError(`connection is closed: ${status.reason}`));
        else if (status.state === 'open') ping(Math.max(1, timeoutMs - (Date.now() - started))).then(resolve, reject);
        else return;
        clearTimeout(timer);
        off();
      });
    });
  }

  /** Sends a request and resolves with the reply's `r`; rejects with a TidingsClientError:
   * the server's error, TIMEOUT_ERROR (sent, no reply in time: it may or may not have been
   * applied), CONNECTION_ERROR (never sent, or the link dropped before the reply),
   * CANCELLED_ERROR (the signal fired) or INVALID_ARGUMENT_ERROR (an option it cannot use). The
   * error of a write that carries an idempotency key has it in `idempotencyKey`. */
  request<K extends OperationName>(outgoing: OutgoingFrame<K>, options: IdempotentWriteOptions = {}): Promise<ResultOf<K>> {
    type R = ResultOf<K>;
    const keyed = IDEMPOTENT_OPERATIONS.has(outgoing.t);
    if (options.idempotencyKey !== undefined) {
      // As the server would: a key on a write it does not deduplicate would be retried believing it safe.
      const problem = keyed ? idempotencyKeyProblem(options.idempotencyKey) : `idempotencyKey is not taken by "${outgoing.t}"`;
      if (problem) return Promise.reject(new TidingsClientError(ErrorCode.INVALID_ARGUMENT_ERROR, `${outgoing.t}: ${problem} (it was not sent)`));
    }
    // Writes a retry could apply twice carry a key: if the link drops before the reply, the request
    // is sent again after reconnecting and the server answers the first result, never applies twice.
    // A key of null (from an untyped frame) is absent, as the server reads it: such a write gets one too.
    const frame: Frame = keyed && (outgoing as Frame)['idempotencyKey'] == null
      ? { ...outgoing, idempotencyKey: options.idempotencyKey ?? randomKey() } : outgoing;
    const key = keyed && typeof frame['idempotencyKey'] === 'string' ? frame['idempotencyKey'] : undefined;
    return new Promise<R>((resolve, rejectWith) => {
      // The app retries a write that may have been applied with the key it was sent with.
      const reject = (e: TidingsClientError) => rejectWith(key === undefined ? e : e.withIdempotencyKey(key));
      // A timer cannot hold more than 2^31 - 1 ms: it would fire at once, not never.
      const problem = options.timeoutMs === undefined ? undefined : timeoutProblem(options.timeoutMs);
      if (problem) return reject(new TidingsClientError(ErrorCode.INVALID_ARGUMENT_ERROR, `${frame.t}: ${problem} (it was not sent)`));
      if (this.statusValue.state === 'closed') return reject(connectionError(`connection is closed: ${this.statusValue.reason}`));
      const signal = options.signal ?? options.abortSignal;
      if (signal?.aborted) return reject(cancelledError(`${frame.t} was cancelled before it was sent`));
      const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs;
      const settle = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (pending.id === undefined) this.queue.remove(pending);
        else this.inFlight.delete(pending.id);
      };
      const pending: PendingRequest = {
        frame,
        id: undefined,
        onReply: options.onReply,
        resolve: (r) => { settle(); resolve(r as R); },
        reject: (e) => { settle(); reject(e); },
      };
      const onAbort = () => pending.reject(cancelledError(`${frame.t} was cancelled${pending.id === undefined ? ' before it was sent' : ''}`));
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => pending.reject(pending.id === undefined && !pending.sent
        ? connectionError(`not connected: ${frame.t} was not sent within ${timeoutMs} ms (it was not applied)`)
        : timeoutError(`no reply to ${frame.t} within ${timeoutMs} ms; it may or may not have been applied`)), timeoutMs);
      if (this.statusValue.state === 'open') return this.send(pending);
      // Its size is held by the queue alone, counted against maxQueuedBytes while it waits.
      let bytes: number;
      try {
        bytes = queuedSize(frame);
      } catch (err) {
        return pending.reject(connectionError(`send failed: ${(err as Error).message}`));
      }
      const refusal = this.queue.refusal(bytes);
      if (refusal) pending.reject(queueFullError(`${this.queueFullReason(refusal, bytes)}: ${frame.t} was not sent`));
      else this.queue.push(pending, bytes);
    });
  }

  /** Why the queue refuses a request of `bytes` (the start of a CONNECTION_ERROR message; its
   * limitCause, client_queue_full, is what an app checks). */
  private queueFullReason(refusal: QueueRefusal, bytes: number): string {
    const state = `not connected (${this.statusValue.state})`;
    if (refusal.bound === 'requests') {
      return this.options.maxQueuedRequests === 0 ? state
        : `${state}, and ${this.options.maxQueuedRequests} requests are already waiting`;
    }
    return `${state}, and the ${refusal.requests} requests waiting hold ${refusal.bytes} bytes: a frame of ${bytes} bytes would pass maxQueuedBytes (${this.options.maxQueuedBytes})`;
  }

  /** Closes for good: pending and queued requests fail with CONNECTION_ERROR. */
  close(): void {
    if (this.closedByUser) return;
    this.closedByUser = true;
    const ws = this.ws;
    this.finish('closed by the client');
    try { ws?.close(CloseCode.NORMAL, 'client closed'); } catch { /* already closing */ }
  }

  /** Fetches a fresh token from tokenProvider and swaps it in band (`auth`); subscriptions stay.
   * Called by itself before expiry; rejects when the provider or the server refuses. */
  refreshToken(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => { this.refreshing = undefined; });
    return this.refreshing;
  }

  // -- internals ---------------------------------------------------------------------------------

  private async doRefresh(): Promise<void> {
    const provider = this.options.tokenProvider;
    if (!provider) throw new TypeError('refreshToken() needs options.tokenProvider');
    try {
      const token = await this.callProvider(this.options.requestTimeoutMs);
      if (this.statusValue.state !== 'open') {
        // The next hello carries it.
        this.token = token;
        this.tokenExpiresAt = undefined;
        return;
      }
      const result = await this.request({ t: 'auth', token });
      this.token = token;
      this.tokenExpiresAt = localExpiry(result);
      this.scheduleRefresh(this.tokenExpiresAt);
      this.emitRefresh({ ok: true, expiresAt: result.expiresAt, endedGroups: result.endedGroups ?? [] });
    } catch (err) {
      const error = err instanceof TidingsClientError ? err : new TidingsClientError(ErrorCode.AUTHENTICATION_ERROR, `token provider failed: ${(err as Error)?.message ?? String(err)}`);
      this.emitRefresh({ ok: false, error });
      // Try again halfway to the expiry; past it the server closes with 4501 and the reconnect
      // asks the provider again.
      const left = typeof this.tokenExpiresAt === 'number' ? this.tokenExpiresAt - Date.now() : 0;
      if (left > 2000 && this.statusValue.state === 'open') this.armRefreshTimer(left / 2);
      throw error;
    }
  }

  /** Whether the current token outlives a notice that says "expires in `inMs`": it crossed a
   * refresh that completed meanwhile. */
  private refreshedSince(inMs: unknown): boolean {
    return typeof inMs === 'number' && typeof this.tokenExpiresAt === 'number' && this.tokenExpiresAt - Date.now() > inMs + 5000;
  }

  /** tokenProvider(), bounded: a provider that hangs fails after `timeoutMs` (and at close()), so
   * neither a refresh nor a reconnect waits on it for ever. */
  private callProvider(timeoutMs: number): Promise<string> {
    const provider = this.options.tokenProvider!;
    return new Promise<string>((resolve, reject) => {
      const done = () => { clearTimeout(timer); this.providerCalls.delete(fail); };
      const fail = (error: Error) => { done(); reject(error); };
      const timer = setTimeout(() => fail(new Error(`no token within ${timeoutMs} ms`)), timeoutMs);
      this.providerCalls.add(fail);
      let token: Promise<string>;
      try { token = Promise.resolve(provider()); } catch (err) { return fail(err as Error); }
      token.then((value) => { done(); resolve(value); }, (err: Error) => fail(err));
    });
  }

  private emitRefresh(event: TokenRefreshEvent): void {
    for (const listener of [...this.refreshListeners]) guard(() => listener(event));
  }

  private setStatus(status: ConnectionStatus): void {
    this.statusValue = status;
    this.emitStatus(status);
  }

  private emitStatus(status: ConnectionStatus): void {
    for (const listener of [...this.statusListeners]) guard(() => listener(status));
  }

  private async connect(): Promise<void> {
    if (this.closedByUser) return;
    this.setStatus({ state: 'connecting', attempt: this.attempt });
    const provider = this.options.tokenProvider;
    const stale = typeof this.tokenExpiresAt === 'number' && this.tokenExpiresAt - Date.now() < this.options.tokenRefreshMarginMs;
    if (provider && (!this.token || stale)) {
      try {
        this.token = await this.callProvider(this.options.connectTimeoutMs);
        this.tokenExpiresAt = undefined;
      } catch (err) {
        return this.scheduleReconnect({ code: 0, reason: `token provider failed: ${(err as Error)?.message ?? String(err)}` });
      }
    }
    if (this.closedByUser) return;
    let ws: WebSocketLike;
    this.linkOpened = false;
    try {
      ws = this.useHttp ? new HttpStreamSocket(this.options.httpUrl, this.options.fetch!) : this.options.openSocket!(this.options.url, [SUBPROTOCOL]);
    } catch (err) {
      // A bad URL or transport never gets better by retrying.
      return this.finish(`cannot open a WebSocket to ${this.options.url}`, connectionError(`cannot open a WebSocket to ${this.options.url}: ${(err as Error).message}`));
    }
    this.ws = ws;
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => this.hello(ws);
    ws.onmessage = (ev) => this.receive(ws, ev.data);
    ws.onerror = () => { /* a close event follows with the details */ };
    ws.onclose = (ev) => this.closed(ws, ev.code, ev.reason);
    this.connectTimer = setTimeout(() => this.abandon(ws, `no connection within ${this.options.connectTimeoutMs} ms`), this.options.connectTimeoutMs);
  }

  private hello(ws: WebSocketLike): void {
    if (ws !== this.ws) return;
    const id = this.nextId++;
    this.inFlight.set(id, {
      frame: { t: 'hello' },
      id,
      resolve: (r) => this.helloAccepted(ws, r as HelloResult),
      // The server follows a refused hello with bye + close; handled there.
      reject: () => {},
    });
    this.lastFrameAt = Date.now();
    // batch: under load the server may send several pushes in one message (decodeFrames).
    ws.send(encodeFrame({ t: 'hello', id, versions: [...PROTOCOL_VERSIONS], token: this.token, client: this.options.clientName, batch: true }));
  }

  private helloAccepted(ws: WebSocketLike, hello: HelloResult): void {
    if (ws !== this.ws) return;
    clearTimeout(this.connectTimer);
    const first = this.opened++ === 0;
    this.linkOpened = true;
    this.linkOpenedAt = Date.now();
    this.authRetries = 0;
    this.heartbeatMs = hello.heartbeatMs;
    this.lastFrameAt = Date.now();
    clearInterval(this.watchdog);
    this.watchdog = setInterval(() => this.checkHeartbeat(ws), Math.max(50, Math.round(this.heartbeatMs / 2)));
    this.tokenExpiresAt = localExpiry(hello);
    this.linkTokenId = hello.tokenId;
    this.maxFrameBytes = typeof hello.limits?.maxFrameBytes === 'number' ? hello.limits.maxFrameBytes : undefined;
    this.scheduleRefresh(this.tokenExpiresAt);
    // Open from here on (requests made now are sent, not queued), but status listeners hear it last.
    const open: ConnectionStatus = { state: 'open', connectionId: hello.connectionId, expiresAt: hello.expiresAt, transport: this.transport };
    this.statusValue = open;
    // Resubscriptions first (they resume from a position), then what waited in the queue.
    for (const listener of [...this.openListeners]) guard(() => listener(first));
    for (const pending of this.queue.takeAll()) {
      // A write sent before under another tokenId (or none): this link would apply it again.
      if (pending.sent && (pending.sentAs === undefined || pending.sentAs !== hello.tokenId)) {
        pending.reject(connectionError(`the connection was lost before the reply to ${String(pending.frame['t'])}; it may or may not have been applied (the server can only recognise a resend for the same tokenId)`));
      } else this.send(pending);
    }
    // Only now: a request a status listener makes on 'open' goes out behind the ones made before
    // it, in the order they were made. Unless a listener above closed the connection meanwhile.
    if (this.statusValue === open) this.emitStatus(open);
  }

  private send(pending: PendingRequest): void {
    const id = this.nextId++;
    let bytes: Uint8Array;
    try {
      bytes = encodeFrame({ ...pending.frame, id });
    } catch (err) {
      return pending.reject(connectionError(`send failed: ${(err as Error).message}`));
    }
    if (this.maxFrameBytes !== undefined && bytes.byteLength > this.maxFrameBytes) {
      // Never sent (pending.id stays undefined): settle() takes it out of the queue if it was there.
      return pending.reject(new TidingsClientError(ErrorCode.LIMIT_EXCEEDED_ERROR,
        `${String(pending.frame['t'])} is a frame of ${bytes.byteLength} bytes, larger than the server's limit of ${this.maxFrameBytes} bytes (it was not sent)`,
        'frame_size_limit_exceeded'));
    }
    pending.id = id;
    pending.sentAs = this.linkTokenId;
    this.inFlight.set(id, pending);
    try {
      this.ws!.send(bytes);
    } catch (err) {
      pending.reject(connectionError(`send failed: ${(err as Error).message}`));
    }
  }

  private receive(ws: WebSocketLike, data: unknown): void {
    if (ws !== this.ws || typeof data === 'string') return; // frames are binary; text is not ours
    this.lastFrameAt = Date.now();
    let frames: Frame[];
    try {
      // One frame, or the frames of a batch (asked for in hello), in order.
      frames = decodeFrames(data instanceof ArrayBuffer ? new Uint8Array(data) : (data as Uint8Array));
    } catch {
      return; // the server never sends undecodable frames; nothing useful to do with one
    }
    for (const frame of frames) {
      if (ws !== this.ws) return; // a listener dropped the link
      this.handle(frame);
    }
  }

  private handle(frame: Frame): void {
    const t = frame['t'];
    if ((t === 'ok' || t === 'err') && typeof frame['id'] === 'number') {
      const pending = this.inFlight.get(frame['id']);
      if (!pending) return; // timed out or cancelled meanwhile
      this.inFlight.delete(frame['id']);
      if (t === 'err' && this.requeueDrained(pending, frame['e'] as WireError)) return;
      guard(() => pending.onReply?.());
      if (t === 'ok') pending.resolve(frame['r']);
      else pending.reject(TidingsClientError.fromWire(frame['e'] as WireError));
      return;
    }
    if (t === 'bye') this.lastBye = { code: frame['code'] as number, reason: frame['reason'] as string };
    // Not when the SDK's own refresh is due before that expiry: a token living less than the
    // server's expiryNoticeMs gets the notice at once after every `auth`, and refreshing on it
    // would swap tokens in a tight loop.
    if (t === 'notice' && frame['kind'] === 'token_expiring' && this.options.tokenProvider && !this.refreshedSince(frame['inMs'])
      && !(this.refreshDueAt !== undefined && typeof frame['inMs'] === 'number' && this.refreshDueAt < Date.now() + frame['inMs'])) {
      void this.refreshToken().catch(() => {});
    }
    for (const listener of [...this.pushListeners]) guard(() => listener(frame));
  }

  /** A request the server refused because it is draining for a shutdown was not applied, and the
   * link closes right after: it waits in the queue for the reconnect, as one made a moment later
   * would, instead of failing with an error the app can only answer by sending it again. False
   * (the app gets the error) when it is another refusal or the queue has no room for it. Never the
   * subscriptions' own `sub` and `unsub` (SUBSCRIPTION_UPKEEP). */
  private requeueDrained(pending: PendingRequest, e: WireError): boolean {
    if (e?.code !== ErrorCode.SERVER_UNAVAILABLE || e.cause !== UnavailableCause.SHUTTING_DOWN || this.closedByUser) return false;
    if (SUBSCRIPTION_UPKEEP.has(String(pending.frame['t']))) return false;
    const bytes = queuedSize(pending.frame);
    if (this.queue.refusal(bytes)) return false;
    pending.id = undefined;
    this.queue.push(pending, bytes);
    return true;
  }

  private checkHeartbeat(ws: WebSocketLike): void {
    if (ws !== this.ws) return;
    const silentMs = Date.now() - this.lastFrameAt;
    if (silentMs > this.heartbeatMs * this.options.heartbeatTimeoutFactor) {
      this.abandon(ws, `no frame from the server for ${silentMs} ms (heartbeat every ${this.heartbeatMs} ms)`);
    }
  }

  /** Gives up on a link that may never deliver a close event (dead network): drop it, reconnect. */
  private abandon(ws: WebSocketLike, reason: string): void {
    if (ws !== this.ws) return;
    ws.onclose = null;
    ws.onmessage = null;
    ws.onopen = null;
    try { ws.close(); } catch { /* already closing */ }
    this.closed(ws, LOCAL_ABORT, reason);
  }

  private closed(ws: WebSocketLike, code: number, reason: string): void {
    if (ws !== this.ws) return;
    this.ws = undefined;
    clearTimeout(this.connectTimer);
    clearInterval(this.watchdog);
    this.clearRefreshTimer();
    if (this.linkOpened && Date.now() - this.linkOpenedAt >= this.heartbeatMs) this.attempt = 0;
    const bye = this.lastBye;
    this.lastBye = undefined;
    const why = { code, reason: bye?.reason || reason || '' };
    // 4500/4501/4504 with a tokenProvider reconnect too (with a fresh token, same tokenId): the
    // writes in flight are sent again then, as after any other drop.
    const authClose = code === CloseCode.TOKEN_EXPIRED || code === CloseCode.AUTHENTICATION_FAILED || code === CloseCode.REVOKED;
    const authRetry = authClose && this.options.tokenProvider !== undefined && this.authRetries < MAX_AUTH_RETRIES;
    const reconnects = !this.closedByUser && (shouldReconnect(code) || authRetry);
    const retry: Array<{ item: PendingRequest; bytes: number }> = [];
    for (const pending of [...this.inFlight.values()]) {
      // Only a request with a key the server deduplicates by: null is no key (docs/protocol.md).
      if (typeof pending.frame['idempotencyKey'] === 'string' && reconnects) {
        pending.id = undefined;
        pending.sent = true;
        // It was encoded once already (send), so this cannot throw.
        retry.push({ item: pending, bytes: queuedSize(pending.frame) });
      } else {
        pending.reject(connectionError(`connection closed before the reply (${why.code} ${why.reason}); the request may or may not have been applied`));
      }
    }
    this.inFlight.clear();
    // Idempotent writes go out again first after reconnecting, in their original order, within
    // both queue bounds: the oldest that fit wait; from the first that does not, they fail now
    // (sent once, so "maybe applied"), never dropped silently and never sent again.
    const refused = this.queue.prependFitting(retry);
    // No client_queue_full cause here: these were sent once ("maybe applied"), and an app that
    // retries on that cause would risk applying them twice.
    for (const pending of refused) {
      pending.reject(connectionError(`connection closed before the reply (${why.code} ${why.reason}), and the queue is full `
        + `(${this.queue.length} requests waiting hold ${this.queue.bytes} bytes; maxQueuedRequests ${this.options.maxQueuedRequests}, `
        + `maxQueuedBytes ${this.options.maxQueuedBytes}): ${String(pending.frame['t'])} is not sent again; it may or may not have been applied`));
    }
    if (this.closedByUser) return;
    if (shouldReconnect(code) && this.options.transport === 'auto' && this.options.openSocket && !this.linkOpened) {
      // A link that died before hello: on WebSocket, likely an upgrade a proxy refuses; try SSE +
      // HTTP at once. On HTTP, go back to WebSocket for the next attempt (with backoff).
      this.useHttp = !this.useHttp;
      if (this.useHttp) {
        this.reconnectTimer = setTimeout(() => void this.connect(), 0);
        return;
      }
    }
    if (shouldReconnect(code)) return this.scheduleReconnect(why);
    // 4500–4999: not with the same credential. A token provider can supply another one.
    // After a revocation (4504) the provider is asked too: the app's backend decides whether to mint again.
    if (authRetry) {
      this.authRetries++;
      this.token = undefined;
      return this.scheduleReconnect(why);
    }
    const error = new TidingsClientError(authClose ? ErrorCode.AUTHENTICATION_ERROR : ErrorCode.CONNECTION_ERROR, why.reason || `closed with ${code}`);
    this.finish(`server closed the connection: ${why.code} ${why.reason}`, error);
  }

  private scheduleReconnect(lastClose: { code: number; reason: string }): void {
    if (this.closedByUser) return;
    if (this.attempt >= this.options.maxReconnectAttempts) {
      return this.finish(`gave up after ${this.attempt} reconnect attempts`, connectionError(`cannot connect: ${lastClose.reason || `closed with ${lastClose.code}`}`));
    }
    const inMs = reconnectDelay(this.attempt, this.options.reconnectBaseMs, this.options.reconnectMaxMs);
    this.attempt++;
    this.setStatus({ state: 'reconnecting', attempt: this.attempt, inMs, lastClose });
    this.reconnectTimer = setTimeout(() => void this.connect(), inMs);
  }

  private scheduleRefresh(expiresAt: number | null): void {
    this.clearRefreshTimer();
    if (expiresAt === null || !this.options.tokenProvider) return;
    // A token that lives less than twice the margin is refreshed halfway through its life (with
    // the margin alone it would be due at once, again after every refresh: a tight loop).
    const left = expiresAt - Date.now();
    this.armRefreshTimer(Math.max(left - this.options.tokenRefreshMarginMs, left / 2));
  }

  private armRefreshTimer(inMs: number): void {
    this.clearRefreshTimer();
    // Longer than a timer can hold: the server's notice (or a reconnect) triggers it instead.
    if (inMs < 2 ** 31 - 1) {
      this.refreshDueAt = Date.now() + Math.max(0, inMs);
      this.refreshTimer = setTimeout(() => { this.refreshDueAt = undefined; void this.refreshToken().catch(() => {}); }, Math.max(0, inMs));
    }
  }

  private clearRefreshTimer(): void {
    clearTimeout(this.refreshTimer);
    this.refreshDueAt = undefined;
  }

  private finish(reason: string, error?: TidingsClientError): void {
    clearInterval(this.watchdog);
    clearTimeout(this.connectTimer);
    this.clearRefreshTimer();
    clearTimeout(this.reconnectTimer);
    const ws = this.ws;
    this.ws = undefined;
    if (ws && !this.closedByUser) {
      ws.onclose = null;
      try { ws.close(); } catch { /* already closing */ }
    }
    const failure = error ?? connectionError(reason);
    for (const fail of [...this.providerCalls]) fail(failure);
    for (const pending of [...this.queue.takeAll(), ...this.inFlight.values()]) pending.reject(failure);
    this.inFlight.clear();
    this.setStatus(error ? { state: 'closed', reason, error } : { state: 'closed', reason });
  }
}
