/** The per-connection protocol state machine: hello, request/reply correlation, dispatch to the
 * feature handlers, token expiry and refresh, heartbeats and shutdown. Knows nothing of uWS.
 * `message` is the WebSocket transport (msgpack frames in, msgpack frames out); `dispatch` is the
 * transport-neutral way into every operation, for any transport that has an authenticated session. */
import {
  CloseCode, ErrorCode, IDEMPOTENT_OPERATIONS, LimitCause, SESSION_OPERATIONS, UnavailableCause, decodeFrame, encodeFrame, negotiateVersion, PROTOCOL_VERSIONS, requestId, shouldReconnect,
  type AuthResult, type ByeFrame, type GenericRequest, type HelloResult, type NoticeFrame, type OperationName, type ResultOf, type WireError,
} from '../protocol/index.js';
import { TidingsError, authenticationFailed, badRequest, invalidArgument, limitExceeded, toWireError } from '../core/errors.js';
import type { Maybe } from '../core/maybe.js';
import type { Fanout } from './engine.js';
import { REPLIED, type BrokerDeps, type HandlerTable, type RequestContext } from './handler.js';
import { Session, groupKey, type Connection } from './session.js';
import { Grant } from '../auth/tokens.js';
import { Subscriptions } from './subscriptions.js';
import { MsgpackReplies } from './replies.js';
import { topicHandlers } from './handlers/topics.js';
import { catchUpBufferLimit, continueAllCatchUps } from './catch-up.js';
import { SlowConsumers } from './slow-consumers.js';
import { IdempotentResults, idempotencyEntryKey } from './idempotency.js';
import { frameShape, peekRequestId } from '../protocol/peek.js';
import { requestOps, shapeRefusal } from '../core/request-shape.js';
import type { IdentityLimits } from '../limits/identity-limits.js';
import { helloFields } from './validate.js';
import { SessionDeadlines, type DueKind } from './session-deadlines.js';
import { Refusals, closeName, opLabel } from './refusals.js';
import { RefusalBudget } from '../limits/refusal-budget.js';
import type { RequestTimes, Transport } from './request-times.js';

/** replyError's `malformed`: the frame was not a request at all. */
const MALFORMED = true;

/** Fan-out key every open connection is attached to for heartbeats. U+0001 cannot start a topic key. */
export const HEARTBEAT_KEY = '\u0001hb';
/** The `op` of a refusal counted before any operation: an HTTP or gRPC call's credential. */
const CREDENTIAL_CHECK = 'credential';
/** The `op` of a refused token mint (POST /v1/tokens, gRPC GenerateDisposableToken). */
const MINT = 'mint';

type AnyHandler = (ctx: RequestContext) => unknown;
type Once = (target: readonly string[], apply: () => Maybe<unknown>) => Maybe<unknown>;
/** A write without an idempotencyKey: applied as asked. */
const applyNow: Once = (_target, apply) => apply();

export class Broker {
  /** Open connections by id. */
  readonly sessions = new Map<string, Session>();
  /** The one path every subscription ends by; observers (presence, metrics) hook in here. */
  readonly subscriptions: Subscriptions;
  /** Error replies by code and cause, closes by code, on every transport (metrics, admin dashboard). */
  readonly refusals: Refusals;
  private readonly handlers: HandlerTable;
  /** hello, auth and ping: the WebSocket session's own operations, never dispatched by other transports. */
  private readonly sessionHandlers: Record<string, AnyHandler>;
  private readonly replies = new MsgpackReplies();
  private readonly heartbeatFrame = new Uint8Array(encodeFrame({ t: 'hb' }));
  private heartbeat: NodeJS.Timeout | undefined;
  /** The fan-out start() was given: shutdown() flushes what it holds before the byes. */
  private fanout: Fanout | undefined;
  /** Connections per tokenId and request rates (src/limits/). */
  readonly limits: IdentityLimits;
  /** Subscribers detached from live fan-out for slowness, catching up from the window. */
  readonly slowConsumers: SlowConsumers;
  /** First results of writes that carried an idempotencyKey (engine/idempotency.ts). */
  readonly idempotent: IdempotentResults;
  /** Set once graceful shutdown began: new requests are refused with SERVER_UNAVAILABLE. */
  private draining = false;
  /** Closes a connection that keeps sending refused frames (limits/refusal-budget.ts). */
  private readonly refusalBudget: RefusalBudget;
  /** Hello and token-expiry deadlines of every session, on one timer. */
  readonly deadlines: SessionDeadlines;
  /** The operations this server serves: the only `op` labels a request is counted or timed under. */
  private readonly served: ReadonlySet<string>;
  private readonly times: RequestTimes | undefined;

  constructor(private readonly deps: BrokerDeps, extraHandlers: HandlerTable[] = []) {
    this.limits = deps.limits;
    this.refusalBudget = new RefusalBudget(deps.config.limits, deps.clock);
    this.subscriptions = new Subscriptions(deps.engine.topics, this.limits);
    this.handlers = Object.assign(Object.create(null) as HandlerTable, topicHandlers(deps, this.subscriptions), ...extraHandlers);
    this.sessionHandlers = { hello: (ctx) => this.hello(ctx), auth: (ctx) => this.auth(ctx), ping: () => ({}) };
    this.served = new Set([...Object.keys(this.handlers), ...Object.keys(this.sessionHandlers)]);
    this.refusals = new Refusals([...this.served, CREDENTIAL_CHECK, MINT]);
    this.times = deps.requestTimes;
    this.idempotent = new IdempotentResults(deps.config.server, deps.clock);
    this.deadlines = new SessionDeadlines(deps.clock, (session, kind) => this.due(session, kind));
    this.slowConsumers = new SlowConsumers({
      sessions: this.sessions, topics: deps.engine.topics, config: deps.config.server, clock: deps.clock,
      bye: (session, code, reason) => this.bye(session, code, reason),
    });
  }

  async start(fanout: Fanout): Promise<void> {
    this.fanout = fanout;
    // Every frame fanned out counts towards the next send-buffer scan (engine/slow-consumers.ts).
    const slow = this.slowConsumers;
    await this.deps.engine.start({
      publish: (key, frame) => { fanout.publish(key, frame); slow.fannedOut(frame.byteLength); },
      sendTo: (connectionId, frame) => fanout.sendTo(connectionId, frame),
    });
    slow.start();
    this.heartbeat = setInterval(() => fanout.publish(HEARTBEAT_KEY, this.heartbeatFrame), this.deps.config.server.heartbeatMs);
    this.heartbeat.unref();
  }

  open(connection: Connection): Session {
    const session = new Session(this.deps.engine.newConnectionId(), connection);
    this.sessions.set(session.id, session);
    this.deadlines.helloBy(session, this.deps.clock.now() + this.deps.config.server.helloTimeoutMs);
    return session;
  }

  /** Throws AUTHENTICATION_ERROR unless `token` is a valid credential; opens nothing (an HTTP
   * route checks it before reading a body, then opens its session with the grant). */
  verifyCredential(token: unknown): Grant {
    try {
      return this.deps.auth.verify(token);
    } catch (err) {
      throw this.counted(err);
    }
  }

  /** Charges a token mint to the API key minting it (limits.tokenMints*); throws the refusal,
   * counted, when its bucket is empty. */
  admitMint(minter: Grant): void {
    const refused = this.limits.admitMint(minter);
    if (refused) throw this.counted(refused, MINT);
  }

  /** A session for a transport that authenticates each call itself (HTTP, gRPC, SSE): it verifies
   * `token` (as `hello` would) and answers an open session to `dispatch` on. The transport calls
   * `closed(session)` when it is done with it. Throws AUTHENTICATION_ERROR. `rateKey`: the client
   * address to charge per-connection request rates to, for transports whose every call is its own
   * session (gRPC); without it the session is charged as a connection. */
  async openAuthenticated(connection: Connection, credential: unknown, rateKey?: string): Promise<Session> {
    // A grant verifyCredential answered before a body was read: only what can change since is
    // checked again (expiry, revocation), not the signature.
    let grant: Grant;
    try {
      grant = credential instanceof Grant ? this.deps.auth.recheck(credential) : this.deps.auth.verify(credential);
    } catch (err) {
      throw this.counted(err);
    }
    // Counted per tokenId like a WebSocket (closed() uncounts every open session).
    this.limits.connect(grant.tokenId);
    const session = new Session(this.deps.engine.newConnectionId(), connection);
    session.grant = grant;
    session.rateKey = rateKey;
    session.state = 'open';
    this.sessions.set(session.id, session);
    // A long-lived stream (SSE) gets the same expiry notice and close as a WebSocket.
    this.armExpiry(session);
    return session;
  }

  /** One WebSocket message. Never throws: every problem becomes an `err` frame or a close. */
  message(session: Session, data: ArrayBuffer | Uint8Array, isBinary: boolean): void {
    if (session.state === 'closed') return;
    // Every frame is answered once, through replyOk or replyError, which time it from here.
    const started = this.times === undefined ? 0 : performance.now();
    if (!isBinary) return this.replyError(session, null, badRequest('frames must be binary msgpack, not text'), started, undefined, MALFORMED);
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    // Size first: decoding is the cost an oversized frame would impose. Before hello the limit is
    // small and the connection is closed: an unauthenticated peer gets nothing more.
    const { maxFrameBytes, maxPreHelloFrameBytes } = this.deps.config.server;
    const maxBytes = session.state === 'awaiting_hello' ? maxPreHelloFrameBytes : maxFrameBytes;
    if (bytes.byteLength > maxBytes) return this.frameTooLarge(session, bytes, maxBytes, started);
    // Then its values, counted from the headers: decoding costs per value, not per byte.
    const { server } = this.deps.config;
    const beforeHello = session.state === 'awaiting_hello';
    const maxElements = beforeHello ? server.maxPreHelloRequestElements : server.maxRequestElements;
    const shape = frameShape(bytes, maxElements, server.maxRequestDepth);
    if (shape.problem) {
      const limits = { maxRequestElements: maxElements, maxRequestDepth: server.maxRequestDepth };
      const refusal = shapeRefusal(shape.problem, limits, beforeHello ? 'server.maxPreHelloRequestElements, the limit before hello' : undefined);
      return this.refuseUndecoded(session, bytes, refusal, 'frame refused before hello', started);
    }
    const overRate = this.chargeElements(session, shape.elements);
    // The frame's values are counted, so a walk to its id is bounded by them.
    if (overRate) return this.replyError(session, peekRequestId(bytes, shape.elements), overRate, started);
    let frame: Record<string, unknown>;
    try {
      frame = decodeFrame(bytes);
    } catch (err) {
      return this.replyError(session, null, badRequest((err as Error).message), started, undefined, MALFORMED);
    }
    const id = requestId(frame);
    const op = frame['t'];
    if (id === null) return this.replyError(session, null, badRequest('request must carry an unsigned integer id'), started, undefined, MALFORMED);
    if (typeof op !== 'string') return this.replyError(session, id, badRequest('request must carry a string t (the operation)'), started, undefined, MALFORMED);
    if (session.state === 'awaiting_hello' && op !== 'hello') {
      session.closeAfterReply = { code: CloseCode.PROTOCOL_VIOLATION, reason: 'the first frame must be hello' };
      return this.replyError(session, id, authenticationFailed('the first frame must be hello'), started, op);
    }
    // Charged like any request (only an open session holds ids in flight), so reusing one is no free request.
    if (session.inFlightIds?.has(id)) return this.replyError(session, id, this.limits.admitRequest(session, session.grant?.tokenId) ?? invalidArgument(`request id ${id} is still in flight on this connection; ids must be unique among pending requests`), started, op);
    if (this.draining && op !== 'ping') return this.replyError(session, id, new TidingsError(ErrorCode.SERVER_UNAVAILABLE, 'the server is shutting down; retry after reconnecting', UnavailableCause.SHUTTING_DOWN), started, op);
    const request = frame as GenericRequest;
    let replied = false;
    const replyNow = (result: unknown) => { replied = true; this.replyOk(session, id, result, started, op); };
    let outcome: unknown;
    try {
      // Own properties only: `t: "valueOf"` must not find Object.prototype.valueOf (found by the fuzz test).
      const sessionHandler = Object.hasOwn(this.sessionHandlers, op) ? this.sessionHandlers[op] : undefined;
      outcome = sessionHandler ? this.invoke(session, sessionHandler, request, replyNow) : this.run(session, request, replyNow);
    } catch (err) {
      return this.replyError(session, id, err, started, op);
    }
    if (outcome instanceof Promise) {
      const ids = (session.inFlightIds ??= new Set());
      ids.add(id);
      // The set goes once empty: a connection that is idle after its subscribes holds none.
      const settled = () => { if (ids.delete(id) && ids.size === 0 && session.inFlightIds === ids) session.inFlightIds = undefined; };
      outcome.then(
        (result) => { settled(); if (!replied) this.replyOk(session, id, result, started, op); },
        (err) => { settled(); if (!replied) this.replyError(session, id, err, started, op); else this.logUnexpected(session, err); },
      );
    } else if (!replied) this.replyOk(session, id, outcome, started, op);
  }

  /** Charges the one request a call's session will dispatch now, before the call's body is parsed
   * into it: a call refused as malformed, or for an unknown operation, costs a request too. The
   * refusal when the buckets lack it. */
  chargeCall(session: Session): TidingsError | undefined {
    const refused = this.limits.admitRequest(session.rateKey ?? session, session.grant?.tokenId);
    if (!refused) session.callCharged = true;
    return refused;
  }

  /** Charges a request of `elements` values (counted before it is decoded) the requests it costs
   * beyond the one every request is charged when it runs (limits.requestElementsPerOp), so the
   * request rates bound decoding work too; the refusal when the buckets lack them. */
  chargeElements(session: Session, elements: number): TidingsError | undefined {
    const { requestElementsPerOp, connectionOpsBurst, tokenIdOpsBurst } = this.deps.config.limits;
    // At most what a full bucket holds, so the largest request can always pass on one.
    const ops = Math.min(requestOps(elements, requestElementsPerOp), connectionOpsBurst, tokenIdOpsBurst);
    if (ops <= 1 || session.state !== 'open') return undefined;
    return this.limits.admitRequest(session.rateKey ?? session, session.grant?.tokenId, ops - 1);
  }

  /** Runs one operation for an authenticated session, whatever the transport: the same validation,
   * permission checks, limits and engine calls. Answers the result, synchronously when the engine
   * does; throws (or rejects with) a TidingsError. `replyNow`, when given, receives the result
   * early where frames must follow the reply in order (a subscribe's replay); the returned value is
   * then the same result. */
  dispatch<K extends OperationName>(session: Session, request: GenericRequest & { t: K }, transport: Transport, replyNow?: (result: ResultOf<K>) => void): Maybe<ResultOf<K>>;
  dispatch(session: Session, request: GenericRequest, transport: Transport, replyNow?: (result: unknown) => void): Maybe<unknown>;
  dispatch(session: Session, request: GenericRequest, transport: Transport, replyNow?: (result: unknown) => void): Maybe<unknown> {
    // The WebSocket counts and times its requests where it replies (replyOk, replyError), these
    // transports here: their reply is the result.
    const started = this.times === undefined ? 0 : performance.now();
    let outcome: Maybe<unknown>;
    try {
      outcome = this.run(session, request, replyNow);
    } catch (err) {
      this.took(request.t, transport, started);
      throw this.counted(err, request.t);
    }
    if (!(outcome instanceof Promise)) {
      this.took(request.t, transport, started);
      return outcome;
    }
    return outcome.then(
      (result) => { this.took(request.t, transport, started); return result; },
      (err: unknown) => { this.took(request.t, transport, started); throw this.counted(err, request.t); },
    );
  }

  /** A request answered, `started` at its arrival: timed under its operation if the server serves
   * it, else `unknown` (opLabel), so a client cannot add labels. */
  private took(op: string | undefined, transport: Transport, started: number): void {
    this.times?.observe(opLabel(op, this.served), transport, started);
  }

  /** A refusal of a transport other than the WebSocket, counted; answers the error to rethrow. */
  private counted(err: unknown, op: string = CREDENTIAL_CHECK): unknown {
    this.refusals.refused(toWireError(err), op);
    return err;
  }

  private run(session: Session, request: GenericRequest, replyNow?: (result: unknown) => void): Maybe<unknown> {
    if (session.state !== 'open') throw authenticationFailed('the session is not authenticated');
    // Invoked before anything else is checked, so every request is charged to the request rates
    // and counts against maxPendingRequests: one refused for its operation or its key, and a
    // repeat of an idempotent write (answered the first result, or waiting for it), cost a reply too.
    return this.invoke(session, this.handle, request, replyNow);
  }

  /** The operation's handler, its write applied once per key when the request carries one. One
   * function for every request (no closure each). */
  private readonly handle = (ctx: RequestContext): unknown => {
    const { session, frame: request } = ctx;
    const handler = Object.hasOwn(this.handlers, request.t) ? this.handlers[request.t as OperationName] as AnyHandler | undefined : undefined;
    if (!handler || SESSION_OPERATIONS.has(request.t)) throw badRequest(`unknown operation "${request.t}"`);
    const key = request['idempotencyKey'];
    // null is absent, as in every optional field (docs/protocol.md, "Frames"). A key on a write
    // that does not take one is refused, not ignored: its sender would retry it believing it safe.
    if (key === undefined || key === null) return handler(ctx);
    if (!IDEMPOTENT_OPERATIONS.has(request.t)) throw idempotencyKeyNotTaken(request.t);
    // The handler applies its write through once(), after its checks: a repeat is refused what the
    // credential repeating it may not do, and only then answered the first result. The write is
    // the operation on its target: names hold no U+0000, so the join is unambiguous.
    const once: Once = (target, apply) => this.once(session, [request.t, ...target].join('\u0000'), key, apply);
    ctx.once = once as RequestContext['once'];
    return handler(ctx);
  };

  /** The write `apply` of a request carrying `key`, applied once per key and `write` (its operation
   * and target; engine/idempotency.ts). */
  private once(session: Session, write: string, key: unknown, apply: () => Maybe<unknown>): Maybe<unknown> {
    // Per tokenId, so a retry on a new connection finds the first result; a credential without
    // one is deduplicated per connection only.
    // A transport whose every call is its own session (rateKey: HTTP API, gRPC) has no
    // connection to deduplicate on: there a credential without tokenId is its own scope (jti).
    const grant = session.grant!;
    const scope = grant.tokenId !== undefined ? `t:${grant.tokenId}`
      : session.rateKey !== undefined && grant.jti !== undefined ? `j:${grant.jti}` : `c:${session.id}`;
    const shared = this.deps.engine.idempotency;
    // A networked engine also remembers the result in its backend, in the write's own step, so
    // a retry that lands on another node is recognised too.
    return this.idempotent.run(scope, write, key, shared ? () => shared.run(idempotencyEntryKey(scope, write, String(key)), apply) : apply);
  }

  private invoke(session: Session, handler: AnyHandler, request: GenericRequest, early: ((result: unknown) => void) | undefined): Maybe<unknown> {
    const { maxPendingRequests } = this.deps.config.server;
    if (session.pending >= maxPendingRequests) {
      throw limitExceeded(LimitCause.PENDING_REQUESTS, `at most ${maxPendingRequests} requests may be in flight`);
    }
    if (session.callCharged) session.callCharged = false;
    else if (session.state === 'open') {
      const refused = this.limits.admitRequest(session.rateKey ?? session, session.grant?.tokenId);
      if (refused) throw refused;
    }
    let earlyResult: unknown;
    const ctx: RequestContext = { session, frame: request, replyNow: (result) => { earlyResult = result; early?.(result); }, once: applyNow as RequestContext['once'] };
    session.pending++;
    let outcome: unknown;
    try {
      outcome = handler(ctx);
    } catch (err) {
      session.pending--;
      throw err;
    }
    if (outcome instanceof Promise) {
      return outcome.then(
        (result) => { session.pending--; return result === REPLIED ? earlyResult : result; },
        (err) => { session.pending--; throw err; },
      );
    }
    session.pending--;
    return outcome === REPLIED ? earlyResult : outcome;
  }

  private frameTooLarge(session: Session, bytes: Uint8Array, maxBytes: number, started: number): void {
    const error = limitExceeded(LimitCause.FRAME_SIZE, `frame of ${bytes.byteLength} bytes is larger than ${maxBytes}${session.state === 'awaiting_hello' ? ' (the limit before hello)' : ''}`);
    this.refuseUndecoded(session, bytes, error, 'frame too large before hello', started);
  }

  /** Answers a frame refused before it was decoded, by the id its headers name if any. Before
   * hello the connection is closed too: an unauthenticated peer gets nothing more. */
  private refuseUndecoded(session: Session, bytes: Uint8Array, error: TidingsError, reasonBeforeHello: string, started: number): void {
    if (session.state === 'awaiting_hello') session.closeAfterReply = { code: CloseCode.POLICY, reason: reasonBeforeHello };
    // Over a limit is not malformed; an ext type (BAD_REQUEST_ERROR) is.
    this.replyError(session, peekRequestId(bytes), error, started, undefined, error.code === ErrorCode.BAD_REQUEST_ERROR);
  }

  /** The connection's send buffer drained: continue backlogs that waited for room. */
  drain(session: Session): void {
    // Also without catch-ups: a detached connection whose catch-ups ended with their
    // subscriptions (unsub, a narrowed refresh) is whole again too.
    if (session.catchUps?.size) continueAllCatchUps(session, this.deps.engine.topics, catchUpBufferLimit(this.deps.config.server.maxBackpressureBytes));
    this.slowConsumers.drained(session);
  }

  /** The transport closed: every subscription ends, its moderation deliveries go elsewhere. */
  closed(session: Session): void {
    if (session.state === 'closed') return;
    if (session.state === 'open') {
      // Its memberships leave the listing as they are uncounted, so a gsub or gunsub still under
      // way finds its entry gone and uncounts nothing again (handlers/moderation.ts).
      if (session.groups?.size) {
        this.limits.leaveGroups(session.grant?.tokenId, session.groups.size);
        session.groups.clear();
      }
      this.limits.disconnect(session.grant?.tokenId);
    }
    session.state = 'closed';
    this.deadlines.cancel(session);
    this.slowConsumers.closed(session);
    this.subscriptions.endAll(session);
    // Its unsettled moderation deliveries go to the other members of its groups.
    this.deps.engine.groups.connectionClosed(session.id);
    this.sessions.delete(session.id);
  }

  /** Graceful shutdown: new requests are refused with SERVER_UNAVAILABLE (retryable); each
   * connection gets `bye` 4000 (with its subscriptions' final positions) once its requests in flight
   * are answered and its catch-ups sent, and is closed once its send buffer drained, so nothing
   * acknowledged and queued is cut off. Past `graceMs` the rest are closed anyway. Resolves when
   * every connection is closed. */
  async shutdown(reason = 'server shutting down', graceMs = this.deps.config.server.shutdownGraceMs): Promise<void> {
    this.draining = true;
    clearInterval(this.heartbeat);
    this.slowConsumers.stop();
    const told = new Set<Session>();
    // A wall-clock wait on purpose: it bounds how long a process takes to stop.
    const deadline = Date.now() + graceMs;
    // Engine redis: items acknowledged before the stop may still be on their way from Redis; the
    // byes name final positions, so they wait for those (within the grace; Redis away: not at all).
    const settle = this.deps.engine.topics.settle?.().catch(() => {});
    if (settle) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([settle, new Promise((resolve) => { timer = setTimeout(resolve, graceMs); })]);
      clearTimeout(timer);
    }
    for (;;) {
      const late = Date.now() >= deadline;
      // Items held to coalesce go out before any bye: the byes' positions count them (with engine
      // redis, the last ones may have come with the settle's answer, in this very iteration).
      this.fanout?.flush?.();
      for (const session of [...this.sessions.values()]) {
        if (!told.has(session) && (late || (session.pending === 0 && !session.catchUps?.size))) {
          told.add(session);
          session.connection.send(encodeFrame(this.shutdownBye(session, reason)));
        }
        if (told.has(session) && (late || session.connection.bufferedAmount() === 0)) {
          session.connection.close(CloseCode.SHUTDOWN, reason);
          this.closed(session);
        }
      }
      if (this.sessions.size === 0 || late) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  private shutdownBye(session: Session, reason: string): ByeFrame {
    const ends: NonNullable<ByeFrame['ends']> = [];
    for (const ref of session.subscriptions.values()) {
      const position = this.deps.engine.topics.position(ref.cache, ref.topic);
      if (position) ends.push({ cache: ref.cache, topic: ref.topic, page: position.page, seq: position.seq });
    }
    return { t: 'bye', code: CloseCode.SHUTDOWN, reason, reconnect: true, ends };
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    this.deadlines.stop();
    this.slowConsumers.stop();
    await this.deps.engine.close();
  }

  // -- connection-level requests -----------------------------------------------------------------

  /** Synchronous (token verification is): no promise chain and no in-flight id set per connect. */
  private hello(ctx: RequestContext<'hello'>): HelloResult {
    const { session, frame } = ctx;
    if (session.state !== 'awaiting_hello') throw badRequest('hello was already sent on this connection');
    let fields: ReturnType<typeof helloFields>;
    try {
      fields = helloFields(frame);
    } catch (err) {
      // A malformed hello is a protocol violation, like one with no common version: the same
      // client would send it again, so it is told not to reconnect as is.
      session.closeAfterReply = { code: CloseCode.PROTOCOL_VIOLATION, reason: 'malformed hello' };
      throw err;
    }
    const version = negotiateVersion(fields.versions);
    if (version === undefined) {
      session.closeAfterReply = { code: CloseCode.PROTOCOL_VIOLATION, reason: 'no common protocol version' };
      throw badRequest(`no common protocol version; this server speaks ${JSON.stringify(PROTOCOL_VERSIONS)}`);
    }
    try {
      this.authenticate(session, frame['token']);
    } catch (err) {
      session.closeAfterReply = { code: CloseCode.AUTHENTICATION_FAILED, reason: toWireError(err).message };
      throw err;
    }
    if (session.connection.authenticated?.() === false) {
      session.closeAfterReply = { code: CloseCode.SERVER_FULL, reason: 'connection limit reached' };
      throw limitExceeded(LimitCause.CONNECTIONS, 'the server holds its maximum of connections; retry later');
    }
    try {
      this.limits.connect(session.grant!.tokenId);
    } catch (err) {
      session.closeAfterReply = { code: CloseCode.POLICY, reason: toWireError(err).message };
      throw err;
    }
    session.state = 'open';
    // Before the first attach: a batch-capable connection attaches to the batch keys.
    const batch = fields.batch && session.connection.acceptBatches?.() === true;
    session.connection.attach(HEARTBEAT_KEY);
    const { server, topics } = this.deps.config;
    this.deps.log.debug({ conn: session.id, kind: session.grant!.kind, tokenId: session.grant!.tokenId, client: fields.client }, 'connection authenticated');
    return {
      version,
      connectionId: session.id,
      expiresAt: session.grant!.expiresAt,
      ...this.expiresIn(session.grant!.expiresAt),
      ...(session.grant!.tokenId !== undefined ? { tokenId: session.grant!.tokenId } : {}),
      heartbeatMs: server.heartbeatMs,
      limits: { maxFrameBytes: server.maxFrameBytes, maxValueBytes: topics.maxValueBytes, maxSubscriptions: topics.maxSubscriptionsPerConnection },
      ...(batch ? { batch: true as const } : {}),
    };
  }

  /** The credential's time left by this server's clock, for hello and auth replies: a client
   * whose clock is off by more than a token's lifetime would otherwise refresh in a loop. */
  private expiresIn(expiresAt: number | null): { expiresInMs?: number } {
    return expiresAt === null ? {} : { expiresInMs: Math.max(0, expiresAt - this.deps.clock.now()) };
  }

  /** In-band refresh: a fresh credential replaces the old one; subscriptions and moderator group
   * memberships it no longer covers end. */
  private auth(ctx: RequestContext<'auth'>): Maybe<AuthResult> {
    const { session, frame } = ctx;
    this.authenticate(session, frame['token']);
    const ended: AuthResult['ended'] = [];
    for (const [key, ref] of session.subscriptions) {
      // A subscription that streams join/leave events needs the presence right too.
      const permissions = session.grant!.permissions;
      if (!permissions.allowsTopic('subscribe', ref.cache, ref.topic) || (ref.presence && !permissions.allowsTopic('presence', ref.cache, ref.topic))) {
        ended.push({ cache: ref.cache, topic: ref.topic });
        this.subscriptions.end(session, key, authenticationFailed('the refreshed token no longer allows this subscription').toWire());
      }
    }
    const result: AuthResult = { expiresAt: session.grant!.expiresAt, ...this.expiresIn(session.grant!.expiresAt), ...(session.grant!.tokenId !== undefined ? { tokenId: session.grant!.tokenId } : {}), ended };
    // A group hands its member every topic of its pattern: the pattern must still be covered whole.
    const endedGroups = [...session.groups?.values() ?? []]
      .filter((m) => !session.grant!.permissions.allowsTopicSelector('subscribe', m.cache, m.selector));
    if (endedGroups.length === 0) return result;
    for (const m of endedGroups) session.groups!.delete(groupKey(m.cache, m.group));
    this.limits.leaveGroups(session.grant!.tokenId, endedGroups.length);
    // Leaving hands the member's unsettled deliveries to the others. A membership already gone
    // (its group ended meanwhile) needs no leave.
    return Promise.all(endedGroups.map((m) => this.deps.engine.groups.leave(session.id, m.cache, m.group).catch(() => undefined)))
      .then(() => ({ ...result, endedGroups: endedGroups.map(({ cache, group }) => ({ cache, group })) }));
  }

  private authenticate(session: Session, token: unknown): void {
    const grant = this.deps.auth.verify(token);
    if (session.grant && session.grant.tokenId !== grant.tokenId) {
      // Items are stamped with the tokenId; a refresh must not let a connection change identity.
      throw authenticationFailed('a refreshed token must carry the same tokenId');
    }
    session.grant = grant;
    this.armExpiry(session);
  }

  /** One deadline at a time per connection: first the `token_expiring` notice, then the expiry. */
  private armExpiry(session: Session): void {
    this.deadlines.cancel(session);
    const expiresAt = session.grant?.expiresAt;
    if (expiresAt === null || expiresAt === undefined) return;
    // Already inside the notice period (e.g. at hello): the notice goes at once, on the deadline
    // timer, so after the reply in flight.
    this.deadlines.expireAt(session, Math.max(this.deps.clock.now(), expiresAt - this.deps.config.auth.expiryNoticeMs), 'notice');
  }

  private due(session: Session, kind: DueKind): void {
    // A hello deadline is held only while the session awaits hello: armExpiry (at hello) and closed cancel it.
    if (kind === 'hello') return this.bye(session, CloseCode.HELLO_TIMEOUT, 'no hello in time');
    const expiresAt = session.grant?.expiresAt;
    if (session.state === 'closed' || expiresAt === null || expiresAt === undefined) return;
    if (kind === 'expiry') return this.bye(session, CloseCode.TOKEN_EXPIRED, 'token expired');
    const inMs = Math.min(this.deps.config.auth.expiryNoticeMs, Math.max(0, expiresAt - this.deps.clock.now()));
    const notice: NoticeFrame = { t: 'notice', kind: 'token_expiring', inMs };
    session.connection.send(encodeFrame(notice));
    this.deadlines.expireAt(session, expiresAt, 'expiry');
  }

  // -- replies -----------------------------------------------------------------------------------

  /** `started`, `op`: when the request arrived and what it was, to time it. */
  private replyOk(session: Session, id: number, result: unknown, started: number, op: string): void {
    if (session.state === 'closed') return;
    const connection = session.connection;
    connection.send(this.replies.ok(id, result, connection.sendsSynchronously === true));
    this.took(op, 'ws', started);
  }

  /** `started`: the frame's arrival, to time it. `op`: the request's operation, once the frame
   * named one (counted and timed under it only if it is one we serve).
   * `malformed`: the frame was not a request at all. It and refusals over the request rates or the
   * requests in flight are charged to the connection's refusal budget, which closes it once spent
   * (limits/refusal-budget.ts). */
  private replyError(session: Session, id: number | null, err: unknown, started: number, op?: string, malformed = false): void {
    if (!(err instanceof TidingsError)) this.logUnexpected(session, err);
    const e = toWireError(err);
    this.refusals.refused(e, op);
    if (session.state === 'closed') return;
    // Before hello a frame that is no request at all ends the connection, as one over a limit or a
    // request other than hello do (docs/protocol.md, "Before `hello`"): an unauthenticated peer
    // gets nothing more.
    if (malformed && session.state === 'awaiting_hello') session.closeAfterReply ??= { code: CloseCode.PROTOCOL_VIOLATION, reason: 'malformed frame before hello' };
    if (malformed || e.cause === LimitCause.OPERATIONS_RATE || e.cause === LimitCause.PENDING_REQUESTS) session.closeAfterReply ??= this.refusalBudget.refused(session, malformed);
    session.connection.send(this.replies.err(id, e));
    this.took(op, 'ws', started);
    this.closeIfAsked(session, e);
  }

  /** `refusal`: the error just answered, which the close follows. */
  private closeIfAsked(session: Session, refusal: WireError): void {
    const close = session.closeAfterReply;
    if (close) this.bye(session, close.code, close.reason, refusal);
  }

  private logUnexpected(session: Session, err: unknown): void {
    this.deps.log.error({ conn: session.id, err }, 'request failed unexpectedly');
  }

  /** Sends a `bye` explaining the close, then closes with `code`. `refusal`: the error answered
   * just before, when the close follows one (a refused hello, the refusal budget spent). */
  bye(session: Session, code: number, reason: string, refusal?: WireError): void {
    if (session.state === 'closed') return;
    // Once per connection, never per request. `code` is the refusal's ErrorCode (what operators
    // alert on); the reason is the server's own words, never the credential.
    this.deps.log.info({
      conn: session.id, tokenId: session.grant?.tokenId, close: closeName(code), reason,
      ...(refusal ? { code: refusal.code, ...(refusal.cause !== undefined ? { cause: refusal.cause } : {}) } : {}),
    }, 'connection closed by the server');
    const bye: ByeFrame = { t: 'bye', code, reason, reconnect: shouldReconnect(code) };
    session.connection.send(encodeFrame(bye));
    session.connection.close(code, reason);
    this.refusals.closed(code);
    this.closed(session);
  }
}

/** An idempotencyKey on an operation that does not deduplicate (docs/protocol.md, "Idempotent writes"). */
function idempotencyKeyNotTaken(operation: string): TidingsError {
  return invalidArgument(`idempotencyKey is not taken by "${operation}": only ${[...IDEMPOTENT_OPERATIONS].join(', ')} accept it (other writes are idempotent by nature or not deduplicated)`);
}
