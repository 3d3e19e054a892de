/** The per-connection protocol state machine: hello, request/reply correlation, dispatch to the
 * feature handlers, token expiry and refresh, heartbeats and shutdown. Knows nothing of uWS. */
import { randomBytes } from 'node:crypto';
import {
  CloseCode, ErrorCode, EncodedResult, LimitCause, decodeFrame, encodeFrame, encodeOkWithRaw, negotiateVersion, requestId, shouldReconnect,
  type ByeFrame, type ErrReply, type GenericRequest, type HelloResult, type AuthResult, type NoticeFrame, type OkReply, type SubscriptionEndFrame,
} from '../protocol/index.js';
import { TidingsError, authenticationFailed, badRequest, limitExceeded, toWireError } from '../core/errors.js';
import type { Fanout } from './engine.js';
import { REPLIED, type BrokerDeps, type HandlerTable, type RequestContext } from './handler.js';
import { Session, type Connection } from './session.js';
import { topicHandlers } from './handlers/topics.js';
import { catchUpBufferLimit, continueAllCatchUps } from './catch-up.js';
import { peekRequestId } from '../protocol/peek.js';
import { IdentityLimits } from '../limits/identity-limits.js';

/** Fan-out key every open connection is attached to for heartbeats. U+0001 cannot start a topic key. */
export const HEARTBEAT_KEY = '\u0001hb';
const MAX_TIMER_MS = 2 ** 31 - 1;
const HEARTBEAT_FRAME = encodeFrame({ t: 'hb' });

export class Broker {
  /** Open connections by id. */
  readonly sessions = new Map<string, Session>();
  private readonly handlers: HandlerTable;
  private heartbeat: NodeJS.Timeout | undefined;
  private fanout: Fanout | undefined;
  /** Connections per tokenId and request rates (src/limits/). */
  readonly limits: IdentityLimits;

  constructor(private readonly deps: BrokerDeps, extraHandlers: HandlerTable[] = []) {
    this.limits = new IdentityLimits(deps.config.limits, deps.clock);
    this.handlers = Object.assign(Object.create(null) as HandlerTable, topicHandlers(deps), ...extraHandlers);
  }

  start(fanout: Fanout): void {
    this.fanout = fanout;
    this.deps.engine.start(fanout);
    this.heartbeat = setInterval(() => fanout.publish(HEARTBEAT_KEY, HEARTBEAT_FRAME), this.deps.config.server.heartbeatMs);
    this.heartbeat.unref();
  }

  open(connection: Connection): Session {
    const session = new Session(randomBytes(8).toString('base64url'), connection);
    this.sessions.set(session.id, session);
    session.timer = setTimeout(() => {
      if (session.state === 'awaiting_hello') this.bye(session, CloseCode.HELLO_TIMEOUT, 'no hello in time');
    }, this.deps.config.server.helloTimeoutMs);
    return session;
  }

  /** One WebSocket message. Never throws: every problem becomes an `err` frame or a close. */
  message(session: Session, data: ArrayBuffer | Uint8Array, isBinary: boolean): void {
    if (session.state === 'closed') return;
    if (!isBinary) return this.replyError(session, null, badRequest('frames must be binary msgpack, not text'));
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    // Size first: decoding is the cost an oversized frame would impose. Before hello the limit is
    // small and the connection is closed: an unauthenticated peer gets nothing more.
    const { maxFrameBytes, maxPreHelloFrameBytes } = this.deps.config.server;
    const maxBytes = session.state === 'awaiting_hello' ? maxPreHelloFrameBytes : maxFrameBytes;
    if (bytes.byteLength > maxBytes) return this.frameTooLarge(session, bytes, maxBytes);
    let frame: Record<string, unknown>;
    try {
      frame = decodeFrame(bytes);
    } catch (err) {
      return this.replyError(session, null, badRequest((err as Error).message));
    }
    const id = requestId(frame);
    const op = frame['t'];
    if (id === null) return this.replyError(session, null, badRequest('request must carry an unsigned integer id'));
    if (typeof op !== 'string') return this.replyError(session, id, badRequest('request must carry a string t (the operation)'));
    if (session.state === 'awaiting_hello' && op !== 'hello') {
      this.replyError(session, id, authenticationFailed('the first frame must be hello'));
      return this.bye(session, CloseCode.PROTOCOL_VIOLATION, 'the first frame must be hello');
    }
    if (session.pending >= this.deps.config.server.maxPendingRequests) {
      return this.replyError(session, id, limitExceeded(LimitCause.PENDING_REQUESTS, `at most ${this.deps.config.server.maxPendingRequests} requests may be in flight`));
    }
    const handler = op === 'hello' ? this.hello : op === 'auth' ? this.auth : op === 'ping' ? () => ({}) : this.handlers[op];
    if (!handler) return this.replyError(session, id, badRequest(`unknown operation "${op}"`));
    if (session.state === 'open') {
      const refused = this.limits.admitRequest(session, session.grant?.tokenId);
      if (refused) return this.replyError(session, id, refused);
    }
    session.pending++;
    let replied = false;
    const ctx: RequestContext = {
      session,
      frame: frame as GenericRequest,
      replyNow: (result) => { replied = true; this.replyOk(session, id, result); },
    };
    let outcome: unknown;
    try {
      outcome = handler.call(this, ctx);
    } catch (err) {
      session.pending--;
      return this.replyError(session, id, err);
    }
    if (outcome instanceof Promise) {
      outcome.then(
        (result) => { session.pending--; if (result !== REPLIED && !replied) this.replyOk(session, id, result); },
        (err) => { session.pending--; if (!replied) this.replyError(session, id, err); else this.logUnexpected(session, err); },
      );
    } else {
      session.pending--;
      if (outcome !== REPLIED && !replied) this.replyOk(session, id, outcome);
    }
  }

  private frameTooLarge(session: Session, bytes: Uint8Array, maxBytes: number): void {
    const error = limitExceeded(LimitCause.FRAME_SIZE, `frame of ${bytes.byteLength} bytes is larger than ${maxBytes}${session.state === 'awaiting_hello' ? ' (the limit before hello)' : ''}`);
    if (session.state === 'awaiting_hello') session.closeAfterReply = { code: CloseCode.POLICY, reason: 'frame too large before hello' };
    this.replyError(session, peekRequestId(bytes), error);
  }

  /** The connection's send buffer drained: continue backlogs that waited for room. */
  drain(session: Session): void {
    if (session.catchUps?.size) continueAllCatchUps(session, this.deps.engine.topics, catchUpBufferLimit(this.deps.config.server.maxBackpressureBytes));
  }

  /** The transport closed: forget the session's subscriptions and timer. */
  closed(session: Session): void {
    if (session.state === 'closed') return;
    if (session.state === 'open') this.limits.disconnect(session.grant?.tokenId);
    session.state = 'closed';
    session.clearTimer();
    for (const { cache, topic } of session.subscriptions.values()) this.deps.engine.topics.unsubscribe(cache, topic);
    session.subscriptions.clear();
    session.catchUps = undefined;
    // Its unsettled moderation deliveries go to the other members of its groups.
    this.deps.engine.groups.connectionClosed(session.id);
    this.sessions.delete(session.id);
  }

  /** Tells every connection why it is being closed, then closes it (graceful shutdown). */
  shutdown(reason = 'server shutting down'): void {
    clearInterval(this.heartbeat);
    for (const session of [...this.sessions.values()]) this.bye(session, CloseCode.SHUTDOWN, reason);
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.deps.engine.close();
  }

  // -- connection-level requests -----------------------------------------------------------------

  private async hello(ctx: RequestContext): Promise<HelloResult> {
    const { session, frame } = ctx;
    if (session.state !== 'awaiting_hello') throw badRequest('hello was already sent on this connection');
    const versions = Array.isArray(frame['versions']) ? frame['versions'].filter((v): v is number => typeof v === 'number') : [];
    const version = negotiateVersion(versions);
    if (version === undefined) {
      session.closeAfterReply = { code: CloseCode.PROTOCOL_VIOLATION, reason: 'no common protocol version' };
      throw badRequest(`no common protocol version; this server speaks ${JSON.stringify([1])}`);
    }
    // Drop the spent Timeout (and its closure) now: an idle connection would hold it for life.
    session.clearTimer();
    try {
      await this.authenticate(session, frame['token']);
    } catch (err) {
      session.closeAfterReply = { code: CloseCode.AUTHENTICATION_FAILED, reason: (err as Error).message };
      throw err;
    }
    if ((session.state as Session['state']) === 'closed') throw new TidingsError(ErrorCode.CANCELLED_ERROR, 'connection closed');
    if (session.connection.authenticated?.() === false) {
      session.closeAfterReply = { code: CloseCode.SERVER_FULL, reason: 'connection limit reached' };
      throw limitExceeded(LimitCause.CONNECTIONS, 'the server holds its maximum of connections; retry later');
    }
    try {
      this.limits.connect(session.grant!.tokenId);
    } catch (err) {
      session.closeAfterReply = { code: CloseCode.POLICY, reason: (err as Error).message };
      throw err;
    }
    session.state = 'open';
    session.connection.attach(HEARTBEAT_KEY);
    const { server, topics } = this.deps.config;
    this.deps.log.debug({ conn: session.id, kind: session.grant!.kind, tokenId: session.grant!.tokenId }, 'connection authenticated');
    return {
      version,
      connectionId: session.id,
      expiresAt: session.grant!.expiresAt,
      ...(session.grant!.tokenId !== undefined ? { tokenId: session.grant!.tokenId } : {}),
      heartbeatMs: server.heartbeatMs,
      limits: { maxFrameBytes: server.maxFrameBytes, maxValueBytes: topics.maxValueBytes, maxSubscriptions: topics.maxSubscriptionsPerConnection },
    };
  }

  /** In-band refresh: a fresh credential replaces the old one; subscriptions it no longer covers end. */
  private async auth(ctx: RequestContext): Promise<AuthResult> {
    const { session, frame } = ctx;
    await this.authenticate(session, frame['token']);
    const ended: AuthResult['ended'] = [];
    for (const [key, ref] of session.subscriptions) {
      if (!session.grant!.permissions.allowsTopic('subscribe', ref.cache, ref.topic)) {
        ended.push(ref);
        this.endSubscription(session, key, authenticationFailed('the refreshed token no longer allows this subscription').toWire());
      }
    }
    return { expiresAt: session.grant!.expiresAt, ...(session.grant!.tokenId !== undefined ? { tokenId: session.grant!.tokenId } : {}), ended };
  }

  private async authenticate(session: Session, token: unknown): Promise<void> {
    const grant = await this.deps.auth.verify(token);
    if (session.grant && session.grant.tokenId !== grant.tokenId) {
      // Items are stamped with the tokenId; a refresh must not let a connection change identity.
      throw authenticationFailed('a refreshed token must carry the same tokenId');
    }
    session.grant = grant;
    this.armExpiry(session);
  }

  /** One timer at a time per connection: first the `token_expiring` notice, then the expiry. */
  private armExpiry(session: Session): void {
    session.clearTimer();
    const expiresAt = session.grant?.expiresAt;
    if (expiresAt === null || expiresAt === undefined) return;
    const untilNotice = expiresAt - this.deps.clock.now() - this.deps.config.auth.expiryNoticeMs;
    if (untilNotice > 0) {
      // Past the timer limit (an API key expiring in weeks), re-arm when the limit is reached.
      session.timer = setTimeout(() => (untilNotice > MAX_TIMER_MS ? this.armExpiry(session) : this.noticeThenExpire(session, expiresAt, this.deps.config.auth.expiryNoticeMs)), Math.min(untilNotice, MAX_TIMER_MS));
    } else {
      // Already inside the notice period (e.g. at hello): notice at once, after the reply in flight.
      session.timer = setTimeout(() => this.noticeThenExpire(session, expiresAt, Math.max(0, expiresAt - this.deps.clock.now())), 0);
    }
  }

  private noticeThenExpire(session: Session, expiresAt: number, inMs: number): void {
    if (session.state === 'closed') return;
    const notice: NoticeFrame = { t: 'notice', kind: 'token_expiring', inMs };
    session.connection.send(encodeFrame(notice));
    session.timer = setTimeout(() => this.bye(session, CloseCode.TOKEN_EXPIRED, 'token expired'), Math.max(0, expiresAt - this.deps.clock.now()));
  }

  private endSubscription(session: Session, key: string, error: SubscriptionEndFrame['e']): void {
    const ref = session.subscriptions.get(key);
    if (!ref) return;
    session.subscriptions.delete(key);
    session.clearCatchUp(key);
    session.connection.detach(key);
    this.deps.engine.topics.unsubscribe(ref.cache, ref.topic);
    const end: SubscriptionEndFrame = { t: 'end', cache: ref.cache, topic: ref.topic, e: error };
    session.connection.send(encodeFrame(end));
  }

  // -- replies -----------------------------------------------------------------------------------

  private replyOk(session: Session, id: number, result: unknown): void {
    if (session.state === 'closed') return;
    if (result instanceof EncodedResult) {
      session.connection.send(encodeOkWithRaw(id, result.bytes));
    } else {
      const reply: OkReply = { t: 'ok', id, r: result ?? {} };
      session.connection.send(encodeFrame(reply));
    }
    this.closeIfAsked(session);
  }

  private replyError(session: Session, id: number | null, err: unknown): void {
    if (!(err instanceof TidingsError)) this.logUnexpected(session, err);
    if (session.state === 'closed') return;
    const reply: ErrReply = { t: 'err', id, e: toWireError(err) };
    session.connection.send(encodeFrame(reply));
    this.closeIfAsked(session);
  }

  private closeIfAsked(session: Session): void {
    const close = session.closeAfterReply;
    if (close) this.bye(session, close.code, close.reason);
  }

  private logUnexpected(session: Session, err: unknown): void {
    this.deps.log.error({ conn: session.id, err }, 'request failed unexpectedly');
  }

  /** Sends a `bye` explaining the close, then closes with `code`. */
  bye(session: Session, code: number, reason: string): void {
    if (session.state === 'closed') return;
    const bye: ByeFrame = { t: 'bye', code, reason, reconnect: shouldReconnect(code) };
    session.connection.send(encodeFrame(bye));
    session.connection.close(code, reason);
    this.closed(session);
  }
}
